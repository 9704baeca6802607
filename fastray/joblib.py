"""A joblib backend on fastray: ``fastray.joblib.register()``, then
``with joblib.parallel_backend("fastray"): Parallel(...)(...)``.

Batches of calls are fastray tasks, auto-sized by joblib's own batching, and
large numpy arguments travel through the shared-memory store (no joblib
memmapping temp files).  Registered under "ray" as well, so code written for
Ray's joblib integration runs with ``import fastray as ray``.
"""
from __future__ import annotations

from typing import Any, Callable

from joblib import register_parallel_backend
from joblib._parallel_backends import AutoBatchingMixin, ParallelBackendBase

from . import api
from .futures import Executor


class FastrayBackend(AutoBatchingMixin, ParallelBackendBase):
    """joblib's backend interface over a fastray Executor."""

    supports_retrieve_callback = True
    supports_timeout = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._executor: Executor | None = None

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        cpus = int(api.cluster_resources().get("CPU", 1))
        if n_jobs is None or n_jobs < 0:
            return max(cpus + 1 + (n_jobs or -1), 1)
        return n_jobs

    def configure(self, n_jobs: int = 1, parallel: Any = None, prefer: Any = None,
                  require: Any = None, **backend_kwargs: Any) -> int:
        # backend_kwargs are joblib's memmapping settings (max_nbytes,
        # temp_folder, ...): large arrays go through fastray's store instead.
        self.parallel = parallel
        self._executor = Executor()
        return self.effective_n_jobs(n_jobs)

    def submit(self, func: Callable[[], Any], callback: Callable[[Any], Any] | None = None
               ) -> Any:
        assert self._executor is not None, "configure() first"
        future = self._executor.submit(func)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def retrieve_result_callback(self, out: Any) -> Any:
        return out.result()

    def abort_everything(self, ensure_ready: bool = True) -> None:
        """An error in one batch: cancel this backend's other batches."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if ensure_ready:
            self._executor = Executor()

    def terminate(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def register() -> None:
    """Makes "fastray" (and "ray") a joblib backend name."""
    register_parallel_backend("fastray", FastrayBackend)
    register_parallel_backend("ray", FastrayBackend)
