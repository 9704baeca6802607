"""Actors that fail: what each way of dying, at each point of an actor's
life, turns into for its caller, with and without restarts and retries;
that nothing outlives the runtime when live actors are shut down or their
driver is killed; and a shortened soak of random actor kills.

The cases test_actors.py already covers (a constructor that raises with
restarts, a method that exits with and without restarts and retries) are
not repeated here."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cloudpickle
import pytest

import fastray
from fastray.exceptions import ActorDiedError, ActorUnavailableError, TaskError

from helpers import store_holders, store_inode
from test_lifecycle import alive, wait_blocked, wait_gone

pytestmark = pytest.mark.timeout(120)


def detonate(how: str, marker: str) -> None:
    """Exits the process (os._exit(7)) or raises, the first time only: once
    marker exists it does nothing, so a restarted actor or a retried call
    gets past it."""
    if os.path.exists(marker):
        return
    open(marker, "w").close()
    if how == "exit":
        os._exit(7)
    raise ValueError("boom")


class Bomb:
    """A result that goes off while the actor pickles it; "given" once it
    gets through."""

    def __init__(self, how: str, marker: str) -> None:
        self.how = how
        self.marker = marker

    def __reduce__(self):
        detonate(self.how, self.marker)
        return (str, ("given",))


class Fragile:
    def __init__(self, how: str | None, marker: str) -> None:
        if how is not None:
            detonate(how, marker)

    def run(self, how: str, marker: str) -> str:
        detonate(how, marker)
        return "ran"

    def give(self, how: str, marker: str) -> Bomb:
        return Bomb(how, marker)

    def ping(self) -> str:
        return "pong"


OPTIONS = {
    "no-restarts": {},
    "restarts": {"max_restarts": 1},
    "restarts-and-retries": {"max_restarts": 1, "max_task_retries": 1},
    "retries-only": {"max_task_retries": 1},
}
DIED = (ActorDiedError, "exited with code 7")
CASES = [
    # A constructor whose process dies is run again if the actor may restart;
    # the calls made meanwhile never ran, so they wait for it, retries or not.
    ("init", "exit", "no-restarts", DIED),
    ("init", "exit", "retries-only", DIED),
    ("init", "exit", "restarts", "pong"),
    ("init", "exit", "restarts-and-retries", "pong"),
    # A constructor that raises is never run again.
    ("init", "raise", "no-restarts", (ActorDiedError, "boom")),
    ("init", "raise", "restarts-and-retries", (ActorDiedError, "boom")),
    # Retries without restarts have no process to retry on.
    ("method", "exit", "retries-only", DIED),
    ("result pickling", "exit", "no-restarts", DIED),
    ("result pickling", "exit", "restarts",
     (ActorUnavailableError, "exited with code 7.*not retried")),
    ("result pickling", "exit", "restarts-and-retries", "given"),
    ("result pickling", "exit", "retries-only", DIED),
    # An error while pickling is the call's own; the actor lives on.
    ("result pickling", "raise", "no-restarts", (TypeError, "could not serialize.*boom")),
    ("result pickling", "raise", "restarts-and-retries",
     (TypeError, "could not serialize.*boom")),
]


@pytest.mark.parametrize("where, how, options, outcome", CASES,
                         ids=[f"{where.replace(' ', '-')}-{how}-{options}"
                              for where, how, options, _ in CASES])
def test_actor_crash_case(ray, tmp_path, where, how, options, outcome):
    marker = str(tmp_path / "went-off")
    actor_class = ray.remote(**OPTIONS[options])(Fragile)
    if where == "init":
        actor = actor_class.remote(how, marker)
        ref = actor.ping.remote()
    else:
        actor = actor_class.remote(None, marker)
        method = actor.run if where == "method" else actor.give
        ref = method.remote(how, marker)
    if isinstance(outcome, str):
        assert ray.get(ref, timeout=60) == outcome
    else:
        error, message = outcome
        with pytest.raises(error, match=message) as raised:
            ray.get(ref, timeout=60)
        if error is TypeError:
            assert isinstance(raised.value, TaskError)
    assert os.path.exists(marker), "the failure never happened"
    if outcome is DIED or (not isinstance(outcome, str) and outcome[0] is ActorDiedError):
        with pytest.raises(ActorDiedError):
            ray.get(actor.ping.remote(), timeout=60)
    else:
        assert ray.get(actor.ping.remote(), timeout=60) == "pong"


def test_a_constructor_that_always_dies_runs_once_per_restart(ray, tmp_path):
    @ray.remote(max_restarts=2)
    class Doomed:
        def __init__(self, folder):
            open(os.path.join(folder, str(time.monotonic_ns())), "w").close()
            os._exit(7)

        def ping(self):
            return "pong"

    doomed = Doomed.remote(str(tmp_path))
    refs = [doomed.ping.remote() for _ in range(3)]
    for ref in refs:
        with pytest.raises(ActorDiedError, match="exited with code 7"):
            ray.get(ref, timeout=60)
    assert len(os.listdir(tmp_path)) == 3


DRIVER = textwrap.dedent("""
    import asyncio, os, signal, sys, time
    import fastray as ray
    from fastray.exceptions import ActorUnavailableError

    context = ray.init(num_cpus=2)
    started = sys.argv[2]

    class Holder:
        def pid(self):
            return os.getpid()

        def hold(self, name):
            open(os.path.join(started, name), "w").close()
            time.sleep(3600)

    class AsyncHolder(Holder):
        async def hold(self, name):
            open(os.path.join(started, name), "w").close()
            await asyncio.sleep(3600)

    sync, asynchronous = ray.remote(Holder), ray.remote(AsyncHolder)
    actors = [sync.remote(), sync.options(max_concurrency=2).remote(), asynchronous.remote(),
              sync.options(num_cpus=1).remote(),
              sync.options(name="kept", lifetime="detached").remote(),
              sync.options(max_restarts=1).remote()]
    os.kill(ray.get(actors[-1].pid.remote()), signal.SIGKILL)
    try:
        ray.get(actors[-1].pid.remote(), timeout=30)
    except ActorUnavailableError:  # the call in flight as it died
        pass
    pids = ray.get([actor.pid.remote() for actor in actors], timeout=30)
    held = [actor.hold.remote(str(i)) for i, actor in enumerate(actors[:3])]
    while len(os.listdir(started)) < 3:
        time.sleep(0.01)
    print("ready", context.address_info["session_dir"], *pids, *context.worker_pids,
          context.spawner_pid, flush=True)
    sys.stdin.readline()
    if sys.argv[1] == "shutdown":
        ray.shutdown()
        print("shut down", flush=True)
    else:
        print("waiting", flush=True)
        ray.get(held[0])
""")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("ending", ["shutdown", "kill"])
def test_live_actors_leave_nothing_behind(tmp_path, ending):
    """Busy actors of every kind, one holding CPUs, a detached one and a
    restarted one: after shutdown(), or once their driver is SIGKILLed, no
    process, store memory or session folder is left."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    started = tmp_path / "started"
    started.mkdir()
    env = dict(os.environ, PYTHONPATH=str(Path(fastray.__file__).parents[1]))
    with subprocess.Popen([sys.executable, str(script), ending, str(started)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env) as driver:
        fields = driver.stdout.readline().split()
        assert fields and fields[0] == "ready", driver.stderr.read()
        session_dir, pids = Path(fields[1]), [int(p) for p in fields[2:]]
        actor_pids = pids[:6]
        assert all(alive(p) for p in pids) and session_dir.exists()
        store = store_inode(driver.pid)
        assert store_holders(store) >= {driver.pid, *actor_pids}
        driver.stdin.write("go\n")
        driver.stdin.flush()
        if ending == "kill":
            assert driver.stdout.readline().strip() == "waiting"
            wait_blocked(driver.pid)
            driver.kill()
        else:
            assert driver.stdout.readline().strip() == "shut down"
            assert [p for p in pids if alive(p)] == [], "shutdown() returned before its end"
            assert not session_dir.exists()
        driver.wait(timeout=60)
    assert wait_gone(pids, 10) == [], "an actor, worker or the spawner outlived the driver"
    deadline = time.monotonic() + 10
    while session_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not session_dir.exists(), "the session folder was left behind"
    assert store_holders(store) == set(), "a process still holds the driver's store"


@pytest.fixture
def actor_soak():
    """benches/actor_soak.py as a module; its actor classes are pickled by
    value, as they are when it runs as a script (the workers cannot import
    it)."""
    path = Path(__file__).resolve().parents[1] / "benches" / "actor_soak.py"
    spec = importlib.util.spec_from_file_location("actor_soak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        cloudpickle.register_pickle_by_value(module)
        yield module
        cloudpickle.unregister_pickle_by_value(module)
    finally:
        del sys.modules[spec.name]


@pytest.mark.slow
# A guard against a hang only: about a minute on a quiet 2-core machine,
# over three under a heavy load beside it.
@pytest.mark.timeout(420)
def test_actor_soak_loses_nothing_and_leaks_nothing(actor_soak):
    """benches/actor_soak.py, shortened: 20 actors, kills every ~50 ms."""
    report = actor_soak.soak(calls=30_000, num_actors=20, kill_every=0.05)
    summary = "\n".join(report.lines())
    assert report.kills.signalled + report.kills.killed > 0, summary
    assert report.restarts > 0 and report.retries > 0, summary
    assert report.outcomes["wrong"] == report.outcomes["lost"] == 0, summary
    assert report.outcomes["right"] + report.outcomes["own error"] == 30_000, summary
    assert report.ok(count_new_shm=False), summary
