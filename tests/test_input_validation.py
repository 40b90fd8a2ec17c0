"""Bad input raises a clear ValueError/TypeError naming the problem."""

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

from seism_stats.inference.pipeline import selective_inference
from seism_stats.io.sequences import encode_sequences, read_fasta

GOOD = ["ACGTACGTAC", "TTGACCATGA", "GGGCCCAAAT", "ACGTTGCAAC", "CATGCATGCA"]
Y = [0.1, 1.2, -0.3, 0.8, -1.0]


def run(sequences=GOOD, y=Y, **kwargs):
    kwargs.setdefault("k", 3)
    kwargs.setdefault("n_samples", 20)
    kwargs.setdefault("random_state", 0)
    return selective_inference(sequences, y, **kwargs)


def test_good_input_runs():
    result = run()
    assert result.n_selected == 1


def test_non_acgt_letter_is_named():
    # positions counted from 1, as biologists do
    with pytest.raises(ValueError, match=r"sequence 2 \(seq2\) has the non-DNA letter 'X' at position 5"):
        run(GOOD[:2] + ["GGGCXCAAAT"] + GOOD[3:])


def test_non_ascii_letter_is_named():
    with pytest.raises(ValueError, match="non-DNA letter 'é'"):
        run(GOOD[:4] + ["CATGéATGCA"])


def test_iupac_letters_are_accepted():
    result = run(GOOD[:4] + ["CATGNRYGCA"])
    assert result.n_sequences == 5


def test_empty_sequence():
    with pytest.raises(ValueError, match=r"sequence 1 \(seq1\) is empty"):
        run(GOOD[:1] + [""] + GOOD[2:])


def test_a_sequence_with_no_window_free_of_n_is_refused():
    # An all-N (masked) sequence has no usable window, like an empty one: refused, named, not silently kept.
    with pytest.raises(ValueError, match=r"sequence 1 \(seq1\) has no window of k=3 letters without an N"):
        run(GOOD[:1] + ["N" * 10] + GOOD[2:], k=3)
    with pytest.raises(ValueError, match="2 sequence"):
        run(GOOD[:1] + ["N" * 10, "ACNNAC"] + GOOD[3:], k=3)
    assert run(GOOD[:1] + ["NNACGNN"] + GOOD[2:], k=3).n_sequences == len(GOOD)  # one clear window is enough


def test_no_sequences():
    with pytest.raises(ValueError, match="no sequences"):
        encode_sequences([])


def test_non_string_sequence():
    with pytest.raises(TypeError, match="sequence 3 is of type int"):
        run(GOOD[:3] + [42] + GOOD[4:])


def test_k_larger_than_a_sequence():
    with pytest.raises(ValueError, match=r"k=6 is larger than sequence 1 \(seq1\), of length 4"):
        run(GOOD[:1] + ["ACGT"] + GOOD[2:], k=6)


def test_k_too_large_or_not_integer():
    with pytest.raises(ValueError, match="larger than the supported maximum"):
        run(k=13)
    with pytest.raises(TypeError, match="k must be an integer"):
        run(k=2.5)
    with pytest.raises(ValueError, match="k must be >= 1"):
        run(k=0)


def test_nan_response():
    with pytest.raises(ValueError, match=r"y contains 1 NaN or infinite values \(first at index 2\)"):
        run(y=[0.1, 1.2, np.nan, 0.8, -1.0])


def test_constant_response():
    with pytest.raises(ValueError, match="y is constant"):
        run(y=[1.0] * 5)


def test_non_numeric_response():
    with pytest.raises(TypeError, match="y must be numeric"):
        run(y=["a", "b", "c", "d", "e"])


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="y has 4 values but there are 5 sequences"):
        run(y=Y[:4])
    with pytest.raises(ValueError, match="covariates have 3 rows but there are 5 sequences"):
        run(covariates=np.ones((3, 1)))


def test_too_few_sequences_for_covariates():
    with pytest.raises(ValueError, match="fewer than 2 residual degrees of freedom"):
        run(covariates=np.random.default_rng(0).standard_normal((5, 3)))


def test_response_explained_by_covariates():
    x = np.arange(5.0)
    with pytest.raises(ValueError, match="explained exactly by the covariates"):
        run(y=2 * x + 1, covariates=x)


def test_unknown_options():
    with pytest.raises(ValueError, match="method must be one of"):
        run(method="gibbs")
    with pytest.raises(ValueError, match="pooling must be one of"):
        run(pooling="mean")
    with pytest.raises(ValueError, match="null must be one of"):
        run(null="bootstrap")
    with pytest.raises(ValueError, match="lam must be a finite positive"):
        run(lam=-1.0)
    with pytest.raises(ValueError, match="split_fraction must be strictly between 0 and 1"):
        run(split_fraction=1.5)


def test_bad_random_state():
    with pytest.raises(TypeError, match="random_state must be"):
        run(random_state="seed")
    with pytest.raises(ValueError, match="non-negative"):
        run(random_state=-1)


def test_fasta_plain_and_gzip(tmp_path):
    text = ">a first\nACGT\nAC\n>b\nTTGA\n"
    plain = tmp_path / "x.fa"
    plain.write_text(text)
    packed = tmp_path / "x.fa.gz"
    with gzip.open(packed, "wt") as handle:
        handle.write(text)
    for path in (plain, packed, str(plain)):
        ids, seqs = read_fasta(path)
        assert ids == ["a", "b"] and seqs == ["ACGTAC", "TTGA"]
    encoded = encode_sequences(plain)
    assert encoded.ids == ("a", "b") and encoded.decode(0) == "ACGTAC"


def test_fasta_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_fasta(tmp_path / "missing.fa")
    bad = tmp_path / "bad.fa"
    bad.write_text("ACGT\n>a\nACGT\n")
    with pytest.raises(ValueError, match="sequence text before any .>. header"):
        read_fasta(bad)
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    with pytest.raises(ValueError, match="no FASTA record"):
        encode_sequences(empty)


# -- silent wrong answers (issue 11) ------------------------------------------------------
def _planted(n=200):
    import pandas as pd
    from simulations.data import simulate_dataset
    data = simulate_dataset(n, 40, consensus="GATTA", beta=1.0, random_state=0)
    labels = [f"s{i}" for i in range(n)]
    return data, pd.Series(data.y, index=labels, name="expr"), pd.Series(data.sequences, index=labels)


def test_model_pairs_pandas_rows_by_label_not_position():
    from seism_stats import SelectiveMotifModel
    data, y, seq = _planted()
    shuffled = y.iloc[np.random.default_rng(0).permutation(len(y))]
    fits = [SelectiveMotifModel(endog, seq, k=5).fit(method="naive", progress=False, random_state=0)
            for endog in (y, shuffled)]
    assert fits[0].inference.kmers == fits[1].inference.kmers == ["GATTA"]
    with pytest.raises(ValueError, match="not aligned"):
        SelectiveMotifModel(y, seq.set_axis([f"t{i}" for i in range(len(seq))]), k=5)
    with pytest.raises(ValueError, match="duplicate index labels"):
        SelectiveMotifModel(y.set_axis([0] * len(y)), seq.to_numpy(), k=5)


def test_model_pairs_fasta_ids_with_response_labels(tmp_path):
    from seism_stats import SelectiveMotifModel
    _, y, seq = _planted()
    fasta = tmp_path / "peaks.fa"
    fasta.write_text("".join(f">{i}\n{s}\n" for i, s in seq.items()))
    shuffled = y.iloc[np.random.default_rng(1).permutation(len(y))]
    fit = SelectiveMotifModel(shuffled, fasta, k=5).fit(method="naive", progress=False, random_state=0)
    assert fit.inference.kmers == ["GATTA"]


@pytest.mark.parametrize("bad", [["1.5", "2.25", "0.5", "3.0", "1.0"], ["1", ".", "2", "3", "4"]])
def test_text_response_is_refused(bad):
    import pandas as pd
    from seism_stats import SelectiveMotifModel
    with pytest.raises(TypeError, match="must be numeric"):
        run(y=bad)
    with pytest.raises(TypeError, match="must be numeric"):
        SelectiveMotifModel.from_formula("y ~ motifs(seq, k=3)", pd.DataFrame({"y": bad, "seq": GOOD}))


def test_ties_with_the_observed_statistic_give_a_large_pvalue():
    from simulations.data import simulate_dataset
    data = simulate_dataset(40, 30, consensus="GATT", random_state=3)
    y = np.zeros(40)
    y[:1] = 1  # one positive: every permutation in the event gives the same statistic
    for method in ("mcmc", "rejection"):
        assert run(data.sequences, y, k=4, n_samples=100, method=method).pvalues[0] == 1.0
    y[:2] = 1
    p = [run(data.sequences, y, k=4, n_samples=400, method=m).pvalues[0] for m in ("mcmc", "rejection")]
    assert min(p) > 0.1, p


@pytest.mark.parametrize("option, match", [({"revcomp": "no"}, "revcomp must be True or False"),
                                           ({"lam": float("inf")}, "lam must be a finite positive"),
                                           ({"refine": 1}, "refine must be True or False")])
def test_settings_of_the_wrong_kind(option, match):
    with pytest.raises((TypeError, ValueError), match=match):
        run(**option)


def test_n_jobs_minus_one_means_every_core_as_in_joblib():
    from seism_stats.inference.options import check_options
    from seism_stats.inference.pipeline import selective_inference as api
    import inspect
    defaults = {name: p.default for name, p in inspect.signature(api).parameters.items()
                if name not in ("sequences", "y", "covariates")}
    assert check_options(**{**defaults, "n_jobs": -1}).n_jobs >= 1
    for bad in (0, -2, 1.5):
        with pytest.raises((TypeError, ValueError), match="n_jobs"):
            check_options(**{**defaults, "n_jobs": bad})


def test_fit_larger_than_max_memory_is_refused_before_allocating():
    with pytest.raises(MemoryError, match=r"k=3 on n=5 sequences needs about .* GiB but max_memory allows"):
        run(max_memory=1000)
    from seism_stats.features.memory import estimate_fit_bytes
    small_chains = estimate_fit_bytes(200, 20_000, 12, 1, 2, "sum", "mcmc")
    assert small_chains < 3 * 2**30 < estimate_fit_bytes(200, 20_000, 12, 1, 16, "sum", "mcmc")


@pytest.mark.parametrize("k, n_motifs, hypothesis, revcomp", [(9, 1, None, True), (7, 2, "both", False),
                                                               ([8, 9], 1, None, True)])
def test_circles_memory_estimate_covers_the_traced_peak(monkeypatch, k, n_motifs, hypothesis, revcomp):
    # The default fit's memory (a block of directions' transforms or the intervals' circles, the
    # steps' lines, the global null's beside) against the estimate the fit itself checked
    # max_memory by. The intervals' circles of one motif are freed before the next motif's are
    # drawn (a cycle inside SciPy's root finder kept every motif's until the collector ran).
    import tracemalloc
    import warnings
    from seism_stats import selective_inference
    from seism_stats.features import memory
    from seism_stats.inference import stages
    from simulations.data import simulate_dataset
    if tracemalloc.is_tracing():
        pytest.skip("tracemalloc is already tracing: the peak would include the whole process")
    estimates = []

    def recorded(*args, **kwargs):
        estimates.append(memory.check_fit_memory(*args, **kwargs))
        return estimates[-1]
    monkeypatch.setattr(stages, "check_fit_memory", recorded)
    data = simulate_dataset(200, 60, consensus="GATTACAGA"[:np.max(k)], beta=0.5, fraction=0.3, random_state=0)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = selective_inference(data.sequences, data.y, k=k, n_motifs=n_motifs, random_state=1,
                                         hypothesis=hypothesis, revcomp=revcomp)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.settings["method"] == "circles" and result.settings["interval_draws"] == 50
    assert result.settings["global_beside"] == (hypothesis == "both")
    assert len(estimates) == 1 and peak < estimates[0] < 4 * peak
    if not np.isscalar(k):  # several lengths: the grid holds every length's cells, each length its counts
        one = memory.estimate_fit_bytes(200, 200 * 60, max(k), 1, 0, "sum", "circles", 1000, 50, 1, 1, True)
        both = memory.estimate_fit_bytes(200, 200 * 60, k, 1, 0, "sum", "circles", 1000, 50, 1, 1, True)
        assert both > one * (1 + 0.9 * sum(4**v for v in k if v != max(k)) / 4 ** max(k))


def test_reverse_complement_index_by_bits():
    from seism_stats.features.kmers import kmer_digits, digits_to_kmer, reverse_complement_index
    for k in (1, 4, 7):
        digits = kmer_digits(np.arange(4**k), k)
        assert np.array_equal(reverse_complement_index(k), digits_to_kmer(3 - digits[:, ::-1].astype(np.int64)))


# -- silent wrong answers found by an outside review (2026-11-27) ---------------------------
def test_plain_endog_pairs_by_position_with_labelled_parts():
    # A plain array has no labels: pairing it with a shuffled Series must keep the order the
    # user gave (as statsmodels does), not reorder the Series by its labels.
    from seism_stats import SelectiveMotifModel
    data, y, seq = _planted()
    order = np.random.default_rng(3).permutation(len(y))
    shuffled = seq.set_axis(range(len(seq))).iloc[order]  # labels: a permutation of 0..n-1
    fit = SelectiveMotifModel(y.to_numpy()[order], shuffled, k=5).fit(method="naive", progress=False,
                                                                       random_state=0)
    assert fit.inference.kmers == ["GATTA"]
    assert list(fit.model.data.sequences.index) == list(shuffled.index)  # rows keep the Series' labels
    filtered = seq.iloc[::2]  # a filtered column with a plain array of its responses
    assert SelectiveMotifModel(y.to_numpy()[::2], filtered, k=5).nobs == len(filtered)


def test_ambiguous_default_index_against_permuted_labels_raises():
    from seism_stats import SelectiveMotifModel
    data, y, seq = _planted()
    order = np.random.default_rng(4).permutation(len(y))
    with pytest.raises(ValueError, match="same labels in different orders"):
        SelectiveMotifModel(y.set_axis(range(len(y))), seq.set_axis(range(len(seq))).iloc[order], k=5)


def test_fasta_ids_match_response_labels_as_text(tmp_path):
    # FASTA ids are text: ids "100".."n+99" in another order pair with a response labelled with
    # those numbers; against a response with the default 0..n-1 index, ids "0".."n-1" in another
    # order are ambiguous (was the index meant as labels?) and raise instead of pairing silently.
    from seism_stats import SelectiveMotifModel
    data, y, seq = _planted()
    n = len(y)
    order = np.random.default_rng(5).permutation(n)
    fasta = tmp_path / "numeric_ids.fa"
    fasta.write_text("".join(f">{i + 100}\n{data.sequences[i]}\n" for i in order))
    model = SelectiveMotifModel(y.set_axis(range(100, n + 100)), fasta, k=5)
    assert list(model.data.sequences) == list(data.sequences)
    assert model.fit(method="naive", progress=False, random_state=0).inference.kmers == ["GATTA"]
    zero_based = tmp_path / "zero_based.fa"
    zero_based.write_text("".join(f">{i}\n{data.sequences[i]}\n" for i in order))
    with pytest.raises(ValueError, match="different orders"):
        SelectiveMotifModel(y.set_axis(range(n)), zero_based, k=5)
    in_order = tmp_path / "in_order.fa"
    in_order.write_text("".join(f">{i}\n{s}\n" for i, s in enumerate(data.sequences)))
    assert list(SelectiveMotifModel(y.set_axis(range(n)), in_order, k=5).data.sequences) == list(data.sequences)


def test_functional_api_refuses_pandas_inputs_with_different_labels():
    data, y, seq = _planted()
    with pytest.raises(ValueError, match="different index labels"):
        run(seq, y.iloc[::-1], k=5)
    with pytest.raises(ValueError, match="different index labels"):
        run(seq, y, k=5, covariates=pd.Series(np.ones(len(y)), index=[f"t{i}" for i in range(len(y))]))
    assert run(seq, y, k=5, method="naive").kmers == ["GATTA"]  # same labels: fine


def test_identical_groups_select_nothing_instead_of_crashing():
    data, _, _ = _planted(100)
    sequences = list(data.sequences) * 2
    y = np.r_[np.ones(100), np.zeros(100)]
    with pytest.warns(UserWarning, match="no k-mer is associated"):
        result = run(sequences, y, k=4, n_samples=50)
    assert result.n_selected == 0


def test_infinite_covariate_names_its_column():
    from seism_stats import SelectiveMotifModel
    data, y, seq = _planted()
    frame = pd.DataFrame({"expr": y, "seq": seq, "gc": np.linspace(0.0, 1.0, len(y))})
    with pytest.raises(ValueError, match=r"exog column 'np.log\(gc\)' is infinite at row s0"):
        SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=5) + np.log(gc)", frame)
    with pytest.raises(ValueError, match="first at row 0, column 0"):
        run(seq.to_numpy(), y.to_numpy(), k=5, covariates=np.log(frame["gc"].to_numpy()))


def test_bool_random_state_and_bad_qqplot_values_are_refused():
    import matplotlib
    matplotlib.use("Agg")
    from seism_stats import qqplot_pvalues
    with pytest.raises(TypeError, match="bool"):
        run(random_state=True)
    with pytest.raises(ValueError, match="outside"):
        qqplot_pvalues([0.1, np.nan, 1.5])
    qqplot_pvalues([0.1, np.nan, 0.5])  # NaN (an unselected motif) is left out


def test_review_cases_of_label_pairing():
    from seism_stats import SelectiveMotifModel
    data, y, seq = _planted()
    n = len(y)
    order = np.random.default_rng(6).permutation(n)
    text_labels = seq.set_axis([str(i) for i in range(n)]).iloc[order]
    with pytest.raises(ValueError, match="same labels .as text. in different orders"):
        SelectiveMotifModel(y.set_axis(range(n)), text_labels, k=5)
    duplicated = seq.set_axis(["a", "a"] + [f"s{i}" for i in range(2, n)])
    with pytest.raises(ValueError, match="not unique"):
        SelectiveMotifModel(y.to_numpy(), duplicated, k=5)
    # functional API: a default-index DataFrame of covariates carries no labels
    assert run(seq, y, k=5, method="naive", covariates=pd.DataFrame({"gc": np.ones(n)})).kmers == ["GATTA"]
    with pytest.raises(ValueError, match="0..n-1 in another order"):
        run(seq.set_axis(range(n)).iloc[order], pd.Series(y.to_numpy()), k=5)


# -- issue 24: a crash, a data loss and silent wrong pairings ---------------------------------
def _fasta(path, ids, sequences):
    path.write_text("".join(f">{i}\n{s}\n" for i, s in zip(ids, sequences)))
    return path


def test_fasta_path_ids_label_its_records_in_the_functional_api(tmp_path):
    # Issue 24.1: a response labelled by the FASTA ids in another order was paired by position
    # (a noise motif, p = 0.95). Same order: fine; another order or other labels: refused.
    data, y, seq = _planted()
    fasta = _fasta(tmp_path / "records.fa", y.index, data.sequences)
    assert run(str(fasta), y, k=5, method="naive").kmers == ["GATTA"]
    shuffled = y.iloc[np.random.default_rng(0).permutation(len(y))]
    with pytest.raises(ValueError, match=r"y and the ids of .*records.fa have different index labels \(the same "
                                         r"labels in another order\)"):
        run(fasta, shuffled, k=5, method="naive")
    with pytest.raises(ValueError, match="'t0' of y is not in the ids of"):
        run(fasta, y.set_axis([f"t{i}" for i in range(len(y))]), k=5, method="naive")
    assert run(fasta, y.loc[read_fasta(fasta)[0]], k=5, method="naive").kmers == ["GATTA"]
    assert run(fasta, y.to_numpy(), k=5, method="naive").kmers == ["GATTA"]  # an array: by position


def test_fasta_ids_match_labels_as_text_in_the_functional_api(tmp_path):
    data, y, _ = _planted()
    n = len(y)
    numeric = _fasta(tmp_path / "numeric.fa", range(100, n + 100), data.sequences)
    assert run(numeric, y.set_axis(range(100, n + 100)), k=5, method="naive").kmers == ["GATTA"]
    order = np.random.default_rng(2).permutation(n)
    zero_based = _fasta(tmp_path / "zero.fa", order, [data.sequences[i] for i in order])
    with pytest.raises(ValueError, match="0..n-1 in another order"):
        run(zero_based, pd.Series(data.y), k=5, method="naive")
    in_order = _fasta(tmp_path / "in_order.fa", range(n), data.sequences)
    assert run(in_order, pd.Series(data.y), k=5, method="naive").kmers == ["GATTA"]


@pytest.mark.parametrize("text, message", [
    (">a\nACGT\n>\nACGT\n>b\nACGT\n", r"line 3 is a '>' header without a sequence id"),
    (">a\nACGT\n>   \nACGT\n", r"line 3 is a '>' header without a sequence id"),
    (">a x\nACGT\n>b\nAC\n\n>a y\nACGT\n", r"line 6: sequence id 'a' was already used on line 1"),
])
def test_fasta_empty_and_duplicate_ids_are_refused_with_the_line(tmp_path, text, message):
    # Issue 24.2: '>' alone got the made-up id seq{i}, which could match another row of a table.
    path = tmp_path / "ids.fa"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"ids.fa: {message}"):
        read_fasta(path)
    with pytest.raises(ValueError, match=message):
        run(str(path), [1.0, 2.0, 3.0], k=2)


def test_too_many_motifs_are_refused_before_any_work(monkeypatch):
    # Issue 24.3: n_motifs > 66 overran a fixed array of the kernels (segmentation fault);
    # 65-66 were refused only after the whole selection.
    from seism_stats.inference import stages
    from seism_stats.selection import _replay

    def no_work(*args, **kwargs):
        raise AssertionError("features were computed before the settings were checked")

    monkeypatch.setattr(stages, "grid_features", no_work)
    for n_motifs in (_replay.MOTIF_LIMIT + 1, 1000):
        with pytest.raises(ValueError, match=f"n_motifs={n_motifs}: at most {_replay.MOTIF_LIMIT} motifs"):
            run(n_motifs=n_motifs)
    with pytest.raises(AssertionError, match="features were computed"):
        run(n_motifs=_replay.MOTIF_LIMIT)  # the limit itself is accepted


def test_step_scores_checks_its_bounds():
    from seism_stats.selection import _replay
    G, q = 16, _replay.MOTIF_LIMIT + 6
    with pytest.raises(ValueError, match="at most 64 motifs"):
        _replay.step_scores(np.zeros((1, G)), np.zeros((1, q)), np.zeros((G, q)), np.zeros((q, G)), 0)
    with pytest.raises(ValueError, match="step 3 does not fit"):
        _replay.step_scores(np.zeros((1, G)), np.zeros((1, 2)), np.zeros((G, 2)), np.zeros((2, G)), 3)
    assert _replay.step_scores(np.ones((1, G)), np.zeros((1, 2)), np.zeros((G, 2)), np.ones((2, G)), 1).shape == (G,)


def meme_txt(path, ppms, names):
    """A file laid out as MEME 5 writes meme.txt (its full text output), for the given PPMs."""
    stars, dashes = "*" * 80, "-" * 80
    lines = [stars, "MEME - Motif discovery tool", stars, "MEME version 5.5.4 (Release date: Thu Jun 15 2023)",
             "", stars, "TRAINING SET", stars, "PRIMARY SEQUENCES= peaks.fa", "CONTROL SEQUENCES= --none--",
             "ALPHABET= ACGT", "Sequence name            Weight Length  Sequence name            Weight Length",
             "-------------            ------ ------  -------------            ------ ------",
             "p0                       1.0000     40  p1                       1.0000     40", stars, "",
             stars, "COMMAND LINE SUMMARY", stars, "command: meme peaks.fa -dna -oc . -nmotifs 2", "",
             "Letter frequencies in dataset:", "A 0.25 C 0.25 G 0.25 T 0.25", stars, ""]
    for j, (ppm, name) in enumerate(zip(ppms, names), start=1):
        w = ppm.shape[0]
        lines += [stars, f"MOTIF {name} MEME-{j}\twidth =  {w}  sites =  17  llr = 196  E-value = 1.2e-011", stars,
                  dashes, f"\tMotif {name} MEME-{j} Description", dashes,
                  "Simplified        A  " + ":" * w, "pos.-specific     C  " + ":" * w, "", dashes, "",
                  dashes, f"\tMotif {name} MEME-{j} position-specific scoring matrix", dashes,
                  f"log-odds matrix: alength= 4 w= {w} n= 1054 bayes= 5.6 E= 1.2e-011 "]
        lines += ["  " + "  ".join(f"{round(100 * np.log2(4 * v + 1e-3)):5d}" for v in row) + " " for row in ppm]
        lines += [dashes, "", dashes, f"\tMotif {name} MEME-{j} position-specific probability matrix", dashes,
                  f"letter-probability matrix: alength= 4 w= {w} nsites= 17 E= 1.2e-011 "]
        lines += [" " + "  ".join(f"{v:.6f}" for v in row) + " " for row in ppm]
        lines += [dashes, "", dashes, f"\tMotif {name} MEME-{j} regular expression", dashes, name, dashes,
                  "", "Time  0.25 secs.", "", stars, ""]
    lines += [stars, "SUMMARY OF MOTIFS", stars, "", dashes, "\tCombined block diagrams: non-overlapping sites",
              dashes, "p0                               1.2e-03  [+1(1.2e-05)]_25", dashes, "", stars]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_meme_full_text_output_is_read(tmp_path):
    # Issue 24.11: meme.txt (MEME's full text output) was refused although read_meme says "minimal or full".
    from seism_stats.io.motif_files import read_meme
    from simulations.data import motif_pwm
    ppms = [motif_pwm("GATTACA"), motif_pwm("CCGG", 0.7)]
    motifs = read_meme(meme_txt(tmp_path / "meme.txt", ppms, ["GATTACA", "CCGG"]))
    assert list(motifs) == ["GATTACA", "CCGG"]
    for ppm, read in zip(ppms, motifs.values()):
        np.testing.assert_allclose(read, ppm, atol=1e-6)


def _damaged_copies(path):
    raw = path.read_bytes()
    middle = len(raw) // 2
    return {"truncated": raw[:middle], "cut_short": raw[:-20], "empty": b"", "text": b"not an archive\n",
            "corrupted": raw[:middle] + bytes(b ^ 0x55 for b in raw[middle:middle + 64]) + raw[middle + 64:]}


def test_damaged_results_archives_give_one_error_naming_the_file(tmp_path):
    # Issue 24.8: truncated or corrupted archives raised zipfile.BadZipFile, zlib.error or EOFError.
    from seism_stats import SelectiveMotifModel, SelectiveMotifResults
    data, y, seq = _planted(60)
    saved = SelectiveMotifModel(y, seq, k=3).fit(method="naive", progress=False, random_state=0)
    saved.save(tmp_path / "res.npz")
    for name, content in _damaged_copies(tmp_path / "res.npz").items():
        damaged = tmp_path / f"{name}.npz"
        damaged.write_bytes(content)
        with pytest.raises(ValueError, match=rf"{name}.npz is (not a|a damaged) seism_stats results file"):
            SelectiveMotifResults.load(damaged)
    assert SelectiveMotifResults.load(tmp_path / "res.npz").inference.kmers == saved.inference.kmers


# -- replay budgets and time (issue 24.6, issue 21.4) ----------------------------------------------
def test_mcmc_plan_above_max_replays_is_refused_before_any_work(monkeypatch):
    # Issue 24.6: n_samples = 1e9 showed a 3.5-hour ETA and went on (then gave a rank from the
    # incomplete tree once max_replays ran out).
    from seism_stats.inference import stages

    monkeypatch.setattr(stages, "grid_features", lambda *a, **k: pytest.fail("features were computed"))
    with pytest.raises(ValueError, match=r"need at least 1,000,000,816 replays .* but max_replays is 2,000,000"):
        run(method="mcmc", n_samples=10**9)
    with pytest.raises(ValueError, match=r"at least 4,800 replays .* max_replays is 4,799"):
        run(method="mcmc", n_samples=1599, n_chains=16, burn_in=200, max_replays=4799)  # 16 x (200 + 100) moves
    with pytest.raises(ValueError, match=r"need at least 1,000,000,000 directions .* max_replays is 2,000,000"):
        run(n_samples=10**9)  # the default method: one direction (transform) per circle and motif
    with pytest.raises(TypeError, match="max_replays must be an integer"):
        run(max_replays=1e6)


def test_long_sampling_is_announced_before_it_starts(monkeypatch):
    from seism_stats.sampling import budget
    monkeypatch.setattr(budget, "LONG_SAMPLING_SECONDS", 0.0)
    with pytest.warns(RuntimeWarning, match=r"mcmc sampling of 20 draws is planned to take .*about \d+ replays, "
                                            r"est\. .* from a pilot"):
        run(method="mcmc")
    with pytest.warns(RuntimeWarning, match=r"circles sampling of 40 directions is planned to take"):
        run(n_samples=40)
    assert budget.format_seconds(12_600) == "3.5 h" and budget.format_seconds(0.2) == "under 1 s"


def test_a_tree_cut_short_by_its_budget_gives_nan_and_results_do_not_depend_on_n_jobs():
    # Issue 21.4: the tree stopped when max_replays ran out and ranked the draws that existed (invalid:
    # P(p <= 5/22) = 0.27-0.28 against 0.227), and the budget was split per process, so results
    # depended on n_jobs. The shrinking bracket needs more replays than moves, so the plan passes.
    from simulations.data import simulate_dataset
    data = simulate_dataset(40, 20, consensus="GAT", random_state=4)
    kwargs = dict(k=3, method="mcmc", n_samples=160, burn_in=10, n_motifs=2, bracket="shrink", random_state=9)
    full = run(data.sequences, data.y, **kwargs)
    needed = full.null_sample.n_replays
    assert needed > 16 * (10 + 11) and np.isfinite(full.pvalues).all()  # more replays than the 336 moves
    for n_jobs in (1, 2):
        with pytest.warns(RuntimeWarning, match="the selective p-values are NaN"):
            short = run(data.sequences, data.y, max_replays=needed - 1, n_jobs=n_jobs, **kwargs)
        assert np.isnan(short.pvalues).all() and short.null_sample.shortfall
        exact = run(data.sequences, data.y, max_replays=needed, n_jobs=n_jobs, **kwargs)
        assert np.array_equal(exact.pvalues, full.pvalues) and not exact.null_sample.shortfall
        assert np.array_equal(exact.null_sample.statistics, full.null_sample.statistics, equal_nan=True)
    from seism_stats import SelectiveMotifModel
    with pytest.warns(RuntimeWarning, match="p-values are NaN"):
        fit = SelectiveMotifModel(data.y, data.sequences, k=3, n_motifs=2).fit(
            method="mcmc", n_samples=160, burn_in=10, bracket="shrink", random_state=9, max_replays=needed - 1, progress=False)
    assert fit.motif_pvalues.isna().all() and "the selective p-values are NaN" in fit.summary().as_text()
    assert "before its tree of chains was complete" in fit.sampler_info["shortfall"]


def test_a_tree_sampler_called_directly_refuses_or_flags_its_budget():
    from seism_stats.features.grid import grid_features
    from seism_stats.sampling import samplers
    from seism_stats.sampling.pvalues import monte_carlo_pvalues
    from seism_stats.selection.greedy import select_motifs
    from seism_stats.selection.replay import SelectionReplay
    from simulations.data import simulate_dataset
    data = simulate_dataset(40, 20, consensus="GAT", random_state=4)
    encoded = encode_sequences(data.sequences)
    features = grid_features(encoded, [3], 1.0, "sum", 1)
    basis = np.ones((40, 1)) / np.sqrt(40)
    selection = select_motifs(features, data.y, basis, 1)
    args = (selection.unit_residual, basis, np.random.default_rng(0), 99)
    with pytest.raises(ValueError, match="max_replays is 100"):
        samplers.sample_sphere_mcmc(SelectionReplay(features, selection.event), *args, max_replays=100)
    sample = samplers.sample_sphere_mcmc(SelectionReplay(features, selection.event), *args, bracket="shrink",
                                         max_replays=16 * 57)  # the moves, not the shrinking bracket's extra
    assert "before its tree of chains was complete" in sample.shortfall
    with pytest.warns(RuntimeWarning, match="p-values are NaN"):
        assert np.isnan(monte_carlo_pvalues(sample, selection.statistics).pvalues).all()


def test_a_response_that_follows_sequence_length_draws_a_warning():
    # Sum pooling: every k-mer count grows with length, so a length-tracking response selects k-mers for
    # length alone (a new user's variable-width peaks: p near 1e-37 for a random k-mer). Said, with the fix.
    rng = np.random.default_rng(0)
    lengths = rng.integers(40, 200, 120)
    sequences = ["".join(rng.choice(list("ACGT"), n)) for n in lengths]
    y = lengths / 50 + rng.standard_normal(120)
    with pytest.warns(UserWarning, match=r"follows sequence length .*Add it as a covariate"):
        run(sequences, y, k=4, method="naive")
    with pytest.warns(UserWarning, match=r"numbers of windows of k=4 letters without N vary .*costs power"):
        run(sequences, rng.standard_normal(120), k=4, method="naive")  # unrelated to length: noise
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the length among the covariates, or max pooling: no warning
        run(sequences, y, covariates=lengths[:, None].astype(float), k=4, method="naive")
        run(sequences, y, k=4, method="naive", pooling="max")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="the response follows")  # the spread is said, not a confound
        # No intercept among the covariates, y far from 0: its mean is not a length effect.
        covariate = rng.standard_normal((120, 1))
        run(sequences, 5 + rng.standard_normal(120), covariates=covariate, add_intercept=False, k=4,
            method="naive")
        run(["ACGTACGTAC"] * 60, 5 + rng.standard_normal(60), covariates=covariate[:60], add_intercept=False,
            k=4, method="naive")  # one length


def test_motifs_term_reads_a_quoted_column_name():
    from seism_stats import SelectiveMotifModel
    data, y, seq = _planted()
    frame = pd.DataFrame({"expr": y, "my seq": seq})
    model = SelectiveMotifModel.from_formula("expr ~ motifs(Q('my seq'), k=5, n_motifs=1)", frame)
    assert list(model.data.sequences) == list(seq)
    with pytest.raises(ValueError, match=r"or Q\('name'\)"):
        SelectiveMotifModel.from_formula("expr ~ motifs(Q(1), k=5)", frame)
    with pytest.raises(ValueError, match="'nope' is not a column"):
        SelectiveMotifModel.from_formula("expr ~ motifs(Q('nope'), k=5)", frame)


def test_backquoted_response_and_covariate_names():
    # formulaic reads `log2 fold-change`; rebuilding the formula from str(term) lost the backquotes.
    from seism_stats import SelectiveMotifModel
    data, y, seq = _planted()
    frame = pd.DataFrame({"log2 fold-change": y, "seq": seq, "gc content": np.linspace(0.0, 1.0, len(y))})
    model = SelectiveMotifModel.from_formula("`log2 fold-change` ~ motifs(seq, k=5, n_motifs=1) + `gc content`",
                                             frame)
    assert model.endog_names == "log2 fold-change" and model.exog_names == ["Intercept", "gc content"]
    assert np.array_equal(model.data.endog.to_numpy(), y.to_numpy())


def test_masked_runs_of_n_are_counted_as_missing_windows():
    # A third of the sequences with a quarter of their letters masked: every summed feature carries the lost windows
    # (a new user's planted motif: naive p 5e-13 -> 3e-3). Said, and window_counts gives the covariate.
    from seism_stats import window_counts
    data, y, seq = _planted(150)
    masked = [s[:10] + "N" * 10 + s[20:] if i % 3 == 0 else s for i, s in enumerate(seq)]
    assert list(window_counts(masked, 5)[:3]) == [40 - 10 - 2 * 4, 40 - 4, 40 - 4]
    with_gap = window_counts(pd.Series([masked[0], None, masked[1]], index=["a", "b", "c"]), 5)
    assert with_gap.index.tolist() == ["a", "b", "c"] and np.isnan(with_gap["b"]) and with_gap["c"] == 36
    with pytest.raises(TypeError, match="not one string"):
        window_counts("ACGTACGT", 4)
    with pytest.warns(UserWarning, match="masked runs of N"):
        run(masked, y, k=5, method="naive")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(masked, y, k=5, method="naive", covariates=window_counts(masked, 5)[:, None].astype(float))


def test_a_response_without_values_is_named():
    from seism_stats import SelectiveMotifModel
    data, y, seq = _planted(60)
    frame = pd.DataFrame({"expr": np.nan, "seq": seq, "unused": np.nan})
    with pytest.raises(ValueError, match=r"every one of the 60 rows .*no value at all in 'expr'\)"):
        SelectiveMotifModel.from_formula("expr ~ motifs(seq, k=4)", frame)


def test_binary_response_with_a_sphere_method_suggests_tilted():
    data, y, seq = _planted(60)
    with pytest.raises(ValueError, match="use method='tilted'"):
        run(seq.to_numpy(), (y.to_numpy() > 0).astype(float), k=4, method="circles")


def test_python_terms_and_backquoted_motif_columns_are_written_back_as_they_were_read():
    # {gc * 2} lost its braces when the formula was rebuilt (formulaic then read 'gc * 2' as an interaction
    # with a number and refused it); motifs(`my seq`) was refused as invalid syntax.
    from seism_stats import SelectiveMotifModel
    data, y, seq = _planted()
    frame = pd.DataFrame({"expr": y, "my seq": seq, "gc": np.linspace(0.0, 1.0, len(y))})
    model = SelectiveMotifModel.from_formula("expr ~ motifs(`my seq`, k=5, n_motifs=1) + {gc * 2}", frame)
    assert model.exog_names == ["Intercept", "gc * 2"]
    assert np.allclose(model.data.exog["gc * 2"].to_numpy(), 2 * frame["gc"].to_numpy())
    assert list(model.data.sequences) == list(seq)


def test_statistic_t_is_the_selected_model_t_statistic():
    data, y, seq = _planted()
    result = run(seq.to_numpy(), y.to_numpy(), k=5, n_motifs=2, n_samples=50)
    table = result.motif_table()
    assert np.allclose(table["statistic_t"], result.naive.params / result.naive.bse, rtol=1e-6)
    assert (table["statistic"] > 0).all() and (table["statistic"] < 1).all()  # the step statistic, a fraction


def test_permutation_methods_refuse_zero_draws_and_circles_take_them():
    # With no permutation drawn, every permutation p-value is 1 (s.e. 0): refused. The circles' test on the
    # observed direction alone is exact and documented (summary note), so it stays allowed.
    data, y, seq = _planted(80)
    binary = (y.to_numpy() > np.median(y.to_numpy())).astype(float)
    with pytest.raises(ValueError, match="n_samples must be >= 1, got 0"):
        run(seq.to_numpy(), binary, k=4, method="tilted", n_samples=0)
    with pytest.raises(ValueError, match="n_samples must be at least 1 with the permutation null .*'tilted'"):
        run(seq.to_numpy(), binary, k=4, n_samples=0)
    assert run(seq.to_numpy(), y.to_numpy(), k=4, n_samples=0).settings["n_samples"] == 0


def test_randomised_ties_are_refused_where_there_are_no_permutations():
    data, y, seq = _planted(80)
    with pytest.raises(ValueError, match="ties='randomised' breaks ties between tilted permutations only"):
        run(seq.to_numpy(), y.to_numpy(), k=4, ties="randomised")


def test_a_shuffle_that_leaves_the_sequences_as_they_were_is_refused():
    from seism_stats.io.composition import foreground_background
    fg = ["ACGTTGCAGT", "TTGACCATGA", "GGGCCCAAAT"]
    with pytest.raises(ValueError, match=r"left 3 of the 3 sequences \(of 10-10 letters\) as they were.*"
                                         "a smaller kmer shuffles more"):
        foreground_background(fg, "shuffle", kmer=9, random_state=0)
    assert len(foreground_background(fg * 10, "shuffle", kmer=2, random_state=0)) == 60
    with pytest.raises(ValueError, match="too short or too repetitive") as refused:  # nothing to move at any kmer
        foreground_background(["AAAAAAAA", "CCCCCCCCCC"], "shuffle", kmer=1, random_state=0)
    assert "smaller kmer" not in str(refused.value)
    with pytest.warns(UserWarning, match="left 2 of the 3 sequences"):  # most of them: a warning
        foreground_background(["ACACACACAC", "GGGGGGGG", "ACGTTGCAGTCCATGGATCA"], "shuffle", random_state=0)
    with pytest.raises(ValueError, match="kmer sets the k-mers of background='shuffle'"):
        foreground_background(fg, fg[::-1], kmer=3)


def test_fastq_and_labels_in_messages():
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/reads.fa"
        with open(path, "w") as handle:
            handle.write("@read1\nACGT\n+\nIIII\n")
        with pytest.raises(ValueError, match="looks like FASTQ"):
            read_fasta(path)
    with pytest.raises(TypeError, match="sequence 1 is of type int, not a string"):
        encode_sequences(["ACGT", 5])
    with pytest.raises(ValueError, match=r"^sequence 1 is empty"):  # the id is the position: not said twice
        encode_sequences(["ACGT", ""], ids=["0", "1"])
    with pytest.raises(ValueError, match=r"^sequence 1 \(b\) is empty"):
        encode_sequences(["ACGT", ""], ids=["a", "b"])
