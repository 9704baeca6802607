"""fastray.futures.Executor against the standard library's expectations."""
from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest

import fastray
from fastray.futures import Executor
from helpers import assert_consumed_lazily, fails, square


def slow(x):
    time.sleep(x)
    return x


@pytest.fixture
def executor(ray):
    with Executor() as pool:
        yield pool


def test_futures_are_real_and_work_with_the_standard_library(executor):
    futures = [executor.submit(square, i) for i in range(6)]
    assert all(isinstance(f, concurrent.futures.Future) for f in futures)
    done = {f.result() for f in concurrent.futures.as_completed(futures, timeout=60)}
    assert done == {0, 1, 4, 9, 16, 25}
    finished, pending = concurrent.futures.wait(futures, timeout=60)
    assert len(finished) == 6 and not pending
    with pytest.raises(ValueError, match="bad 3"):
        executor.submit(fails, 3).result(timeout=60)


def test_map_keeps_order_with_chunks(executor):
    assert list(executor.map(square, range(50), chunksize=7)) == [i * i for i in range(50)]
    assert list(executor.map(pow, [2, 3], [5, 2])) == [32, 9]


def test_map_consumes_a_long_generator_as_it_goes(executor):
    assert_consumed_lazily(lambda items: executor.map(square, items, chunksize=10))


def test_map_timeout(executor):
    with pytest.raises(TimeoutError):
        list(executor.map(slow, [0, 30], timeout=1))


def test_shutdown_cancel_futures_cancels_only_this_executors_tasks(executor):
    other = Executor()
    blockers = [executor.submit(slow, 30) for _ in range(2)]
    queued = [executor.submit(square, i) for i in range(5)]
    elsewhere = fastray.remote(square).remote(7)
    theirs = other.submit(square, 8)
    executor.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in blockers + queued)
    assert fastray.get(elsewhere, timeout=60) == 49
    assert theirs.result(timeout=60) == 64
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(square, 1)
    other.shutdown()


def test_a_function_that_cannot_be_pickled_fails_at_submit(executor):
    lock = threading.Lock()

    def uses_lock(x):
        with lock:
            return x

    with pytest.raises(TypeError, match="cannot be pickled"):
        executor.submit(uses_lock, 1)
    assert executor.submit(square, 3).result(timeout=60) == 9


def test_get_with_a_progress_bar(ray, capsys):
    refs = [ray.remote(slow).remote(0.01 * (i % 3)) for i in range(30)]
    assert ray.progress(refs) == [0.01 * (i % 3) for i in range(30)]
    drawn = capsys.readouterr().err
    assert "30/30" in drawn
    assert ray.get(refs, progress=True) == [0.01 * (i % 3) for i in range(30)]
    assert "fastray.get" not in capsys.readouterr().err  # not a terminal: no bar


def test_the_plain_bar_when_tqdm_is_missing(ray, capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert ray.get([ray.remote(square).remote(3)], progress="always") == [9]
    assert "1/1 [" in capsys.readouterr().err


def test_map_and_imap_can_count_results_on_a_bar(executor, capsys):
    from fastray.util.multiprocessing import Pool

    assert list(executor.map(square, range(12), progress="always")) == [
        i * i for i in range(12)]
    assert "12/12" in capsys.readouterr().err
    with Pool() as pool:
        assert list(pool.imap(square, range(5), progress="always")) == [0, 1, 4, 9, 16]
    assert "5/5" in capsys.readouterr().err
