"""``fastray.futures.Executor``: the standard library's executor interface
on fastray tasks.

Futures are real ``concurrent.futures.Future`` objects, so
``concurrent.futures.as_completed`` and ``wait`` work on them.  ``map``
consumes its iterables as it goes (a bounded window of chunks in flight),
so it works over long generators, and ``shutdown(cancel_futures=True)``
cancels this executor's own pending tasks and nobody else's.
"""
from __future__ import annotations

import concurrent.futures
import itertools
import threading
import time
import types
from collections import deque
from typing import Any, Callable, Iterable, Iterator

from . import api
from .exceptions import GetTimeoutError
from .progress_bar import counted
from .remote_function import RemoteFunction, remote

# Chunks of map() in flight per CPU: enough to keep workers busy while the
# caller consumes results, few enough that a generator is not drained.
CHUNKS_IN_FLIGHT_PER_CPU = 4


def run_chunk(fn: Callable[..., Any], chunk: list[tuple]) -> list[Any]:
    """One task of map(): fn over several argument tuples."""
    return [fn(*args) for args in chunk]


def run_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The task for a callable that is not a plain function (a partial, an
    object with __call__, joblib's batches): it travels as an argument, so
    the data it holds goes through the object store and is not kept as a
    function definition."""
    return fn(*args, **kwargs)


class Executor(concurrent.futures.Executor):
    """A ``concurrent.futures.Executor`` whose work items are fastray tasks.

    Starts the fastray runtime if it is not running (``init_kwargs`` go to
    ``fastray.init``).  ``max_workers`` is accepted for compatibility; the
    runtime's CPUs bound the parallelism.
    """

    def __init__(self, max_workers: int | None = None, **init_kwargs: Any) -> None:
        if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
            raise ValueError(f"max_workers must be a positive int, got {max_workers!r}")
        if not api.is_initialized():
            api.init(ignore_reinit_error=True, **init_kwargs)
        self._remote_functions: dict[Callable[..., Any], RemoteFunction] = {}
        self._pending: dict[concurrent.futures.Future[Any], Any] = {}
        self._lock = threading.Lock()
        self._shutdown = False

    def _remote(self, fn: Callable[..., Any]) -> RemoteFunction:
        task = self._remote_functions.get(fn)
        if task is None:
            task = self._remote_functions[fn] = remote(fn)
        return task

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future[Any]:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if isinstance(fn, (types.FunctionType, types.BuiltinFunctionType)):
                ref = self._remote(fn).remote(*args, **kwargs)
            else:
                ref = self._remote(run_call).remote(fn, *args, **kwargs)
            future = ref.future()
            self._pending[future] = ref
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending.pop(future, None)

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any],
            timeout: float | None = None, chunksize: int = 1,
            progress: bool | str = False) -> Iterator[Any]:
        """Like ``Executor.map``: results in order; a result not ready within
        ``timeout`` seconds of this call raises TimeoutError.  progress=True
        counts results on a bar (on a terminal; "always": anywhere)."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1")
        deadline = None if timeout is None else time.monotonic() + timeout
        chunks = chunked(zip(*iterables), chunksize)
        window = CHUNKS_IN_FLIGHT_PER_CPU * max(1, int(api.cluster_resources().get("CPU", 1)))
        total = _length(iterables)
        return counted(self._ordered_results(fn, chunks, window, deadline), total,
                       "Executor.map", progress)

    def _ordered_results(self, fn: Callable[..., Any], chunks: Iterator[list[tuple]],
                         window: int, deadline: float | None) -> Iterator[Any]:
        in_flight: deque[concurrent.futures.Future[Any]] = deque()
        try:
            for chunk in itertools.islice(chunks, window):
                in_flight.append(self.submit(run_chunk, fn, chunk))
            while in_flight:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    results = in_flight[0].result(remaining)
                except (concurrent.futures.TimeoutError, GetTimeoutError):
                    raise TimeoutError("map() result not ready within the timeout") from None
                in_flight.popleft()
                for chunk in itertools.islice(chunks, 1):
                    in_flight.append(self.submit(run_chunk, fn, chunk))
                yield from results
        finally:
            for future in in_flight:
                self._cancel(future)

    def _cancel(self, future: concurrent.futures.Future[Any]) -> None:
        """Cancels the future first: the task's own end (cancelled) must not
        settle it in between."""
        with self._lock:
            ref = self._pending.get(future)
        future.cancel()
        if ref is not None:
            api.cancel(ref)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            pending = list(self._pending)
        if cancel_futures:
            for future in pending:
                self._cancel(future)
        if wait:
            concurrent.futures.wait(pending)


def _length(iterables: tuple[Iterable[Any], ...]) -> int | None:
    """How many items zip(*iterables) gives, if the iterables say."""
    try:
        return min(len(it) for it in iterables)  # type: ignore[arg-type]
    except TypeError:
        return None


def chunked(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to size items, taken from items only as they are needed."""
    while True:
        chunk = list(itertools.islice(items, size))
        if not chunk:
            return
        yield chunk
