"""Where independent tasks run: in this process, in joblib processes, or on a Dask cluster.

Tasks are ``joblib.delayed`` triples ``(function, args, kwargs)``; every task
carries its own seed, so the results do not depend on where or how many at a
time they run.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from functools import lru_cache

from joblib import Parallel
from threadpoolctl import ThreadpoolController

BACKENDS = ("joblib", "dask")
#: Held while BLAS is limited to one thread (:func:`single_threaded_blas`).
_BLAS_LIMIT_LOCK = threading.RLock()


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    """The process's BLAS thread pools (threadpoolctl; looked up once: the lookup costs milliseconds)."""
    return ThreadpoolController()


@contextmanager
def single_threaded_blas():
    """A context in which BLAS runs on one thread (threadpoolctl, as scikit-learn does).

    For the small matrix products inside the samplers' loops: a multithreaded BLAS
    spends more on its threads than on the product there, and far more on a loaded
    machine (64 x 20,000 times 20,000 x 130: 145 ms one column at a time, 10 ms in one
    single-threaded product, on a busy 2-core machine), and its spinning workers slow the
    OpenMP kernels that run next. The products' values do not depend on it beyond rounding
    (OpenBLAS splits a single dot product across threads from about n = 10,000; on one
    thread it rounds the same whatever the core count). The limit is process-wide, so
    threads (a threaded Dask worker) take turns inside it: overlapping limits would restore
    each other's settings out of order. Reentrant: a context inside another is fine.
    """
    with _BLAS_LIMIT_LOCK, _blas_controller().limit(limits=1, user_api="blas"):
        yield


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}")
    return backend


def dask_client(client=None):
    """The given ``dask.distributed`` Client, else the current one; a clear error when there is none."""
    try:
        from distributed import get_client
    except ImportError:
        raise ImportError("backend='dask' needs dask.distributed: pip install 'seism_stats[dask]'") from None
    if client is not None:
        return client
    try:
        return get_client()
    except ValueError:
        raise ValueError("backend='dask' needs a running dask.distributed Client: create one first "
                         "(e.g. Client() for a local cluster) or pass client=") from None


def run_tasks(tasks: list, n_jobs: int = 1, backend: str = "joblib", client=None,
              as_generator: bool = False):
    """Run ``tasks`` and return their results in order (or a generator of them).

    Parameters
    ----------
    tasks : list of (function, args, kwargs)
    n_jobs : int
        joblib processes (1 runs in this process).
    backend : {"joblib", "dask"}
        ``"dask"`` submits every task to a ``dask.distributed`` Client.
    client : dask.distributed.Client, optional
    as_generator : bool
        Yield results as they come, in order (for progress bars).
    """
    check_backend(backend)
    if backend == "dask":
        client = dask_client(client)
        futures = [client.submit(function, *args, pure=False, **kwargs) for function, args, kwargs in tasks]
        if as_generator:
            return (future.result() for future in futures)
        return client.gather(futures)
    if n_jobs == 1 or len(tasks) <= 1:
        results = (function(*args, **kwargs) for function, args, kwargs in tasks)
        return results if as_generator else list(results)
    return Parallel(n_jobs=min(n_jobs, len(tasks)), return_as="generator" if as_generator else "list")(tasks)
