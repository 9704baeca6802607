"""The joblib backend, with joblib itself."""
from __future__ import annotations

import joblib
import numpy as np
import pytest

import fastray
import fastray.joblib
from fastray.util.joblib import register_ray

from helpers import fails, square


def column_sum(array, column):
    return float(array[:, column].sum())


@pytest.fixture
def backend(ray):
    fastray.joblib.register()
    with joblib.parallel_backend("fastray"):
        yield


def test_parallel_runs_on_fastray(backend):
    assert joblib.Parallel(n_jobs=2)(joblib.delayed(square)(i) for i in range(200)) == [
        i * i for i in range(200)]
    stats = fastray.api.state.backend.stats()
    assert stats["tasks_finished"] >= 1


def test_many_tiny_calls_are_batched(backend):
    before = fastray.api.state.backend.stats()["tasks_finished"]
    results = joblib.Parallel(n_jobs=-1)(joblib.delayed(square)(i) for i in range(5_000))
    assert results == [i * i for i in range(5_000)]
    tasks = fastray.api.state.backend.stats()["tasks_finished"] - before
    assert tasks < 5_000 / 2, f"{tasks} tasks for 5,000 calls: no batching"


def test_large_arrays_go_through_the_store(backend):
    array = np.arange(4_000_000, dtype=np.float64).reshape(-1, 8)
    results = joblib.Parallel(n_jobs=2)(joblib.delayed(column_sum)(array, c) for c in range(8))
    assert results == [float(array[:, c].sum()) for c in range(8)]


def test_an_error_in_one_call_reaches_the_caller(backend):
    with pytest.raises(ValueError, match="bad 3"):
        joblib.Parallel(n_jobs=2)(joblib.delayed(fails)(i) for i in [3])


def test_rays_spelling(ray):
    register_ray()
    with joblib.parallel_backend("ray"):
        assert joblib.Parallel()(joblib.delayed(square)(i) for i in range(10)) == [
            i * i for i in range(10)]


@pytest.mark.slow
def test_a_scikit_learn_cross_validation_with_all_cores(backend):
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    features, labels = make_classification(n_samples=400, n_features=20, random_state=0)
    before = fastray.api.state.backend.stats()["tasks_finished"]
    scores = cross_val_score(LogisticRegression(max_iter=500), features, labels, cv=5,
                             n_jobs=-1)
    assert len(scores) == 5 and all(0.5 < score <= 1.0 for score in scores)
    assert fastray.api.state.backend.stats()["tasks_finished"] > before


def test_parallel_starts_fastray_when_it_is_not_running():
    fastray.joblib.register()
    with joblib.parallel_backend("fastray"):
        assert joblib.Parallel(n_jobs=-1)(joblib.delayed(square)(i) for i in range(5)) == [
            0, 1, 4, 9, 16]
    assert fastray.is_initialized()
