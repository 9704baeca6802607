"""fastray.util.multiprocessing.Pool, with multiprocessing.Pool's API."""
from __future__ import annotations

import os

import pytest

import fastray
from fastray.util.multiprocessing import Pool
from helpers import assert_consumed_lazily, fails, square


def add(x, y):
    return x + y


def remember_initializer(value):
    os.environ["FASTRAY_TEST_POOL_INIT"] = value


def read_initializer(_):
    return os.environ.get("FASTRAY_TEST_POOL_INIT")


@pytest.fixture
def pool(ray):
    with Pool() as p:
        yield p


def test_map_starmap_apply(pool):
    assert pool.map(square, range(20)) == [i * i for i in range(20)]
    assert pool.map(square, range(20), chunksize=3) == [i * i for i in range(20)]
    assert pool.starmap(add, [(1, 2), (3, 4)]) == [3, 7]
    assert pool.apply(add, (5, 6)) == 11
    assert pool.apply(add, (1,), {"y": 2}) == 3


def test_async_results_and_callbacks(pool):
    seen = []
    result = pool.apply_async(square, (7,), callback=seen.append)
    assert result.get(timeout=60) == 49 and result.ready() and result.successful()
    result.wait(5)
    assert seen == [49]
    errors = []
    failing = pool.map_async(fails, [1], error_callback=errors.append)
    with pytest.raises(ValueError, match="bad 1"):
        failing.get(timeout=60)
    assert not failing.successful()
    assert pool.starmap_async(add, [(1, 1)]).get(timeout=60) == [2]


def test_imap_in_order_and_imap_unordered(pool):
    assert list(pool.imap(square, range(30), chunksize=4)) == [i * i for i in range(30)]
    assert sorted(pool.imap_unordered(square, range(30))) == [i * i for i in range(30)]


def test_imap_consumes_its_iterable_as_it_goes(pool):
    assert_consumed_lazily(lambda items: pool.imap(square, items))


def test_initializer_runs_in_the_workers():
    fastray.init(num_cpus=2)
    with Pool(2, initializer=remember_initializer, initargs=("ready",)) as pool:
        assert set(pool.map(read_initializer, range(8))) == {"ready"}


def test_close_join_terminate_and_bad_input():
    fastray.init(num_cpus=2)
    pool = Pool(2)
    assert pool.map(square, [3]) == [9]
    with pytest.raises(ValueError, match="still running"):
        pool.join()
    pool.close()
    pool.join()
    with pytest.raises(ValueError, match="not running"):
        pool.map(square, [1])
    with pytest.raises(ValueError):
        Pool(0)
    with pytest.raises(ValueError, match="Chunksize"):
        Pool(1).map(square, [1], chunksize=0)
