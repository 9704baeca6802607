"""``multiprocessing.Pool``'s API on fastray tasks (Ray's
``ray.util.multiprocessing.Pool``).

Each chunk of work is one task; ``imap``/``imap_unordered`` consume their
iterable as they go.  ``initializer`` runs once per worker process and pool,
before that process's first task for the pool.
"""
from __future__ import annotations

import itertools
import os
import threading
from typing import Any, Callable, Iterable, Iterator, Sized

from .. import api
from ..futures import CHUNKS_IN_FLIGHT_PER_CPU, chunked
from ..progress_bar import counted
from ..remote_function import remote

_initialized_pools: set[str] = set()   # in a worker: pools whose initializer ran here


def _run_chunk(pool_id: str, initializer: Callable[..., Any] | None, initargs: tuple,
               fn: Callable[..., Any], chunk: list[tuple], star: bool) -> list[Any]:
    if initializer is not None and pool_id not in _initialized_pools:
        initializer(*initargs)
        _initialized_pools.add(pool_id)
    return [fn(*args) if star else fn(args) for args in chunk]


_run_chunk_task = remote(_run_chunk)


class AsyncResult:
    """What ``apply_async``/``map_async`` return (multiprocessing's API)."""

    def __init__(self, refs: list[Any], single: bool,
                 callback: Callable[[Any], Any] | None,
                 error_callback: Callable[[BaseException], Any] | None) -> None:
        self._refs = refs
        self._single = single
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        thread = threading.Thread(target=self._collect, args=(callback, error_callback),
                                  daemon=True, name="fastray-pool-result")
        thread.start()

    def _collect(self, callback: Callable[[Any], Any] | None,
                 error_callback: Callable[[BaseException], Any] | None) -> None:
        try:
            chunks = api.get(self._refs)
            values = [value for chunk in chunks for value in chunk]
            self._value = values[0] if self._single else values
        except BaseException as exc:
            self._error = exc
        self._done.set()
        if self._error is None and callback is not None:
            callback(self._value)
        elif self._error is not None and error_callback is not None:
            error_callback(self._error)

    def get(self, timeout: float | None = None) -> Any:
        if not self._done.wait(timeout):
            raise TimeoutError("the result is not ready within the timeout")
        if self._error is not None:
            raise self._error
        return self._value

    def wait(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def ready(self) -> bool:
        return self._done.is_set()

    def successful(self) -> bool:
        if not self.ready():
            raise ValueError("the result is not ready yet")
        return self._error is None


class Pool:
    """``multiprocessing.Pool`` whose workers are the fastray runtime's."""

    def __init__(self, processes: int | None = None,
                 initializer: Callable[..., Any] | None = None, initargs: tuple = (),
                 maxtasksperchild: int | None = None, **init_kwargs: Any) -> None:
        if processes is not None and (not isinstance(processes, int) or processes < 1):
            raise ValueError("Number of processes must be at least 1")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if not api.is_initialized():
            api.init(ignore_reinit_error=True, **init_kwargs)
        self._processes = processes or int(api.cluster_resources().get("CPU", 1))
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._id = os.urandom(8).hex()
        self._state = "running"
        self._refs: list[Any] = []

    # -- submitting

    def _check_running(self) -> None:
        if self._state != "running":
            raise ValueError("Pool not running")

    def _submit(self, fn: Callable[..., Any], chunk: list, star: bool) -> Any:
        ref = _run_chunk_task.remote(self._id, self._initializer, self._initargs, fn, chunk,
                                     star)
        self._refs.append(ref)
        return ref

    def _chunksize(self, items: list, chunksize: int | None) -> int:
        if chunksize is not None:
            if chunksize < 1:
                raise ValueError("Chunksize must be 1+, not {0:n}".format(chunksize))
            return chunksize
        size, extra = divmod(len(items), self._processes * 4)
        return size + 1 if extra else max(size, 1)

    def apply(self, func: Callable[..., Any], args: tuple = (), kwds: dict | None = None) -> Any:
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func: Callable[..., Any], args: tuple = (), kwds: dict | None = None,
                    callback: Callable[[Any], Any] | None = None,
                    error_callback: Callable[[BaseException], Any] | None = None
                    ) -> AsyncResult:
        self._check_running()
        call = _Call(func, kwds or {})
        return AsyncResult([self._submit(call, [tuple(args)], True)], True, callback,
                           error_callback)

    def map_async(self, func: Callable[..., Any], iterable: Iterable[Any],
                  chunksize: int | None = None, callback: Callable[[Any], Any] | None = None,
                  error_callback: Callable[[BaseException], Any] | None = None,
                  star: bool = False) -> AsyncResult:
        self._check_running()
        items = list(iterable)
        size = self._chunksize(items, chunksize)
        refs = [self._submit(func, items[i:i + size], star) for i in range(0, len(items), size)]
        return AsyncResult(refs, False, callback, error_callback)

    def map(self, func: Callable[..., Any], iterable: Iterable[Any],
            chunksize: int | None = None) -> list[Any]:
        return self.map_async(func, iterable, chunksize).get()

    def starmap(self, func: Callable[..., Any], iterable: Iterable[Iterable[Any]],
                chunksize: int | None = None) -> list[Any]:
        return self.map_async(func, [tuple(a) for a in iterable], chunksize, star=True).get()

    def starmap_async(self, func: Callable[..., Any], iterable: Iterable[Iterable[Any]],
                      chunksize: int | None = None, callback: Callable[[Any], Any] | None = None,
                      error_callback: Callable[[BaseException], Any] | None = None
                      ) -> AsyncResult:
        return self.map_async(func, [tuple(a) for a in iterable], chunksize, callback,
                              error_callback, star=True)

    def imap(self, func: Callable[..., Any], iterable: Iterable[Any],
             chunksize: int = 1, progress: bool | str = False) -> Iterator[Any]:
        """Results in order, consuming the iterable as they are taken.
        progress=True counts them on a bar (fastray's own keyword)."""
        self._check_running()
        total = len(iterable) if isinstance(iterable, Sized) else None
        return counted(self._stream(func, iterable, chunksize, ordered=True), total,
                       "Pool.imap", progress)

    def imap_unordered(self, func: Callable[..., Any], iterable: Iterable[Any],
                       chunksize: int = 1) -> Iterator[Any]:
        """Results as they finish, consuming the iterable as they are taken."""
        self._check_running()
        return self._stream(func, iterable, chunksize, ordered=False)

    def _stream(self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int,
                ordered: bool) -> Iterator[Any]:
        window = CHUNKS_IN_FLIGHT_PER_CPU * self._processes
        chunks = chunked(iter(iterable), chunksize)
        in_flight = [self._submit(func, c, False) for c in itertools.islice(chunks, window)]
        while in_flight:
            if ordered:
                done = in_flight.pop(0)
            else:
                (done,), in_flight = api.wait(in_flight, num_returns=1)
            in_flight += [self._submit(func, c, False) for c in itertools.islice(chunks, 1)]
            yield from api.get(done)

    # -- ending

    def close(self) -> None:
        self._state = "closed"

    def terminate(self) -> None:
        """Stops taking work and cancels what is still running."""
        self._state = "terminated"
        for ref in self._refs:
            api.cancel(ref, force=True)
        self._refs = []

    def join(self) -> None:
        if self._state == "running":
            raise ValueError("Pool is still running")
        if self._refs:
            api.wait(self._refs, num_returns=len(self._refs))
        self._refs = []

    def __enter__(self) -> Pool:
        self._check_running()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.terminate()


class _Call:
    """func with keyword arguments, as one picklable callable."""

    def __init__(self, func: Callable[..., Any], kwds: dict) -> None:
        self.func = func
        self.kwds = kwds

    def __call__(self, *args: Any) -> Any:
        return self.func(*args, **self.kwds)

