"""``python -m fastray dashboard --demo``: a runtime with the dashboard and
a small mixed workload (quick tasks, slow tasks, arrays, a failing task, an
actor's calls) to look at."""
from __future__ import annotations

import time

from .. import api
from ..remote_function import remote


def run_demo(seconds: float | None, port: int | None) -> None:
    """A runtime with the dashboard and a small mixed workload, for a look."""
    import numpy as np

    context = api.init(include_dashboard=True, dashboard_port=port)
    print(f"fastray dashboard: http://{context.dashboard_url}", flush=True)

    @remote
    def quick(i: int) -> int:
        return i

    @remote
    def slow(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    @remote
    def total(array: np.ndarray) -> float:
        return float(array.sum())

    def fails() -> None:
        raise ValueError("a task that fails, to show how failures look")

    class Tally:
        """An actor, to show how actors and their calls look."""

        def __init__(self) -> None:
            self.total = 0

        def add(self, n: int) -> int:
            self.total += n
            return self.total

    failing = remote(fails).options(max_retries=0)
    tally = remote(Tally).options(name="tally").remote()
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            refs = [quick.remote(i) for i in range(500)] + [slow.remote(0.3) for _ in range(3)]
            refs.append(total.remote(np.ones(2_000_000)))
            refs += [tally.add.remote(i) for i in range(100)]
            try:
                api.get(failing.remote())
            except ValueError:
                pass  # shown on the page as a failed task
            api.get(refs)
    except KeyboardInterrupt:
        pass
    finally:
        api.shutdown()
