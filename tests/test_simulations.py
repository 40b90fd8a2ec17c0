"""The simulation suite runs end to end on a tiny grid and writes its figures and tables."""

import numpy as np
import pandas as pd
import pytest

from simulations import __main__ as cli
from simulations import experiments
from simulations.data import simulate_dataset


def test_generator_plants_the_motif_and_is_reproducible():
    first = simulate_dataset(50, 30, consensus="GATTA", fraction=1.0, confidence=1.0, beta=1.0, random_state=4)
    again = simulate_dataset(50, 30, consensus="GATTA", fraction=1.0, confidence=1.0, beta=1.0, random_state=4)
    assert first.sequences == again.sequences and np.array_equal(first.y, again.y)
    assert all("GATTA" in s for s in first.sequences)
    assert first.planted.all() and first.signal.min() >= 1.0
    binary = simulate_dataset(50, 30, response="binary", random_state=1)
    assert set(np.unique(binary.y)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="shorter than the motif"):
        simulate_dataset(10, 3, consensus="GATTA")


def test_quick_suite_writes_figures_and_is_calibrated(tmp_path, monkeypatch):
    small = dict(cli.QUICK, betas=[0.0, 1.5], ns=[60], speed={"n": [60, 120], "k": [3], "B": [100]})
    monkeypatch.setattr(cli, "QUICK", small)
    assert cli.main(["all", "--quick", "--n-datasets", "40", "--jobs", "2", "--out", str(tmp_path)]) == 0
    for name in ("calibration_qq.png", "calibration_ks.csv", "calibration_pvalues.csv", "validity.png",
                 "validity_rates.csv", "power.png",
                 "power.csv", "speed.png", "speed.csv", "speed_slopes.csv", "runs.log"):
        assert (tmp_path / name).stat().st_size > 0, name
    ks = pd.read_csv(tmp_path / "calibration_ks.csv").set_index("method")
    # Not grossly off: SEISM's null p-values pass a KS test, the naive ones fail it.
    assert ks.loc["seism_mcmc", "ks_pvalue"] > 0.001
    assert ks.loc["seism_rejection", "ks_pvalue"] > 0.001
    assert ks.loc["seism_mcmc_small_b", "ks_pvalue"] > 0.001
    assert ks.loc["naive", "ks_pvalue"] < 0.001
    power = pd.read_csv(tmp_path / "power.csv")
    strong = power[(power.beta == 1.5) & (power.method == "seism_mcmc")]
    assert strong["power"].iloc[0] > 0.5


def test_runs_are_reproducible_whatever_jobs():
    settings = [experiments.Setting(n=40, length=20, consensus="GAT", n_samples=100)] * 3
    serial = experiments.run_many(settings, seed=5, jobs=1)
    parallel = experiments.run_many(settings, seed=5, jobs=2)
    columns = [c for c in serial.columns if c.startswith("p_")]
    pd.testing.assert_frame_equal(serial[columns], parallel[columns])


def test_dask_backend_runs_the_same_data_sets():
    distributed = pytest.importorskip("distributed")
    settings = [experiments.Setting(n=40, length=20, consensus="GAT", n_samples=100)] * 3
    local = experiments.run_many(settings, seed=5, jobs=1)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        remote = experiments.run_many(settings, seed=5, backend="dask", client=client)
    columns = [c for c in local.columns if c.startswith("p_")]
    pd.testing.assert_frame_equal(local[columns], remote[columns])


def test_power_panels_share_the_common_point():
    base = experiments.Setting(n=60, length=20, consensus="GAT", n_samples=50, methods=("seism_mcmc", "data_split"))
    _, summary = experiments.power([0.0, 0.5], [40, 60], 2, base=base, beta_for_n=0.5)
    common = summary[(summary.n == 60) & (summary.beta == 0.5)].set_index(["experiment", "method"])["power"]
    for method in ("seism_mcmc", "data_split"):
        assert common[("effect size", method)] == common[("sample size", method)]
