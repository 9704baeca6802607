"""Actors on the local runtime: classes and handles, ordering, concurrency,
lifetime, names, failures and restarts, cancel, CPUs, the runtime context."""
from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
import time

import numpy as np
import pytest

import fastray
from fastray.exceptions import (ActorDiedError, GetTimeoutError, PendingCallsLimitExceeded,
                                RayActorError, TaskCancelledError, TaskError)

from actor_classes import Counter

pytestmark = pytest.mark.timeout(120)


def process_gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:  # gone while being read
            return True
        time.sleep(0.01)
    return False


def test_calls_run_in_order_and_keep_state(ray):
    counter = Counter.remote(10)
    assert isinstance(counter, fastray.actor.ActorHandle)
    refs = [counter.incr.remote() for _ in range(100)]
    assert ray.get(refs) == list(range(11, 111))
    assert ray.get(counter.get.remote()) == 110
    assert repr(counter).startswith("Actor(Counter, ")


def test_a_call_waiting_for_its_argument_holds_back_later_calls(ray):
    @ray.remote
    def slow_value(path):
        while not os.path.exists(path):
            time.sleep(0.005)
        return 5

    counter = Counter.remote()
    gate = f"/tmp/fastray-test-gate-{os.getpid()}-{time.monotonic_ns()}"
    first = counter.incr.remote(slow_value.remote(gate))
    second = counter.incr.remote(1)
    ready, _ = ray.wait([second], timeout=0.3)
    assert ready == []
    open(gate, "w").close()
    try:
        assert ray.get([first, second], timeout=60) == [5, 6]
    finally:
        os.unlink(gate)


def test_arguments_and_results_are_those_of_tasks(ray):
    @ray.remote
    def make():
        return 7

    counter = Counter.remote()
    assert ray.get(counter.incr.remote(make.remote())) == 7
    nested = ray.get(counter.echo.remote([make.remote()]))
    assert isinstance(nested[0], ray.ObjectRef) and ray.get(nested[0]) == 7
    array = np.arange(1_000_000, dtype=np.float64)
    back = ray.get(counter.echo.remote(array))
    assert np.array_equal(back, array) and not back.flags.writeable
    ref = counter.get.remote()
    assert ray.get(ray.remote(lambda x: x + 1).remote(ref)) == 8
    ready, _ = ray.wait([ref], timeout=60)
    assert ready == [ref]


def test_a_task_waiting_for_an_actor_call_runs_when_it_returns(ray):
    @ray.remote
    class Gated:
        def value(self, path):
            while not os.path.exists(path):
                time.sleep(0.005)
            return 41

    @ray.remote
    def plus_one(x):
        return x + 1

    gate = f"/tmp/fastray-test-gate-{os.getpid()}-{time.monotonic_ns()}"
    waiting = plus_one.remote(Gated.remote().value.remote(gate))
    open(gate, "w").close()
    try:
        assert ray.get(waiting, timeout=60) == 42
    finally:
        os.unlink(gate)


def test_bad_calls_fail_at_the_call_site(ray):
    counter = Counter.remote()
    with pytest.raises(TypeError, match="remote"):
        Counter()
    with pytest.raises(TypeError, match=r"\.incr\.remote"):
        counter.incr()
    with pytest.raises(AttributeError, match="nope"):
        counter.nope
    with pytest.raises(ValueError, match="invalid option"):
        Counter.options(bogus=1)
    with pytest.raises(ValueError, match="max_concurrency"):
        Counter.options(max_concurrency=0)
    with pytest.raises(ValueError, match="num_cpus"):
        Counter.options(num_cpus=64).remote()
    with pytest.raises(TypeError, match="serialize"):
        Counter.remote(threading.Lock())
    # Declaring is not asking: the options are taken; making the actor
    # asks the machine, which has fewer GPUs.
    wants_gpu = Counter.options(num_gpus=1024)
    with pytest.raises(ValueError, match="num_gpus"):
        wants_gpu.remote()
    with pytest.raises(ValueError, match="custom resources"):
        Counter.options(resources={"accelerator": 1}).remote()
    with pytest.raises(ValueError, match="accelerator_type:A100"):
        Counter.options(accelerator_type="A100").remote()
    assert ray.get(counter.incr.remote()) == 1


def test_multiple_returns_and_method_options(ray):
    @ray.remote
    class Pair:
        @ray.method(num_returns=2)
        def split(self, x):
            return x, x + 1

        def three(self):
            return 1, 2, 3

    pair = Pair.remote()
    a, b = pair.split.remote(1)
    assert ray.get([a, b]) == [1, 2]
    x, y, z = pair.three.options(num_returns=3).remote()
    assert ray.get(z) == 3


def test_method_error_keeps_the_actor_alive(ray):
    counter = Counter.remote()
    with pytest.raises(KeyError) as info:
        ray.get(counter.fail.remote())
    assert isinstance(info.value, TaskError)
    assert ray.get(counter.incr.remote()) == 1


def test_constructor_error_kills_the_actor(ray):
    @ray.remote(max_restarts=3)
    class Broken:
        def __init__(self):
            raise ValueError("bad init")

        def ping(self):
            return 1

    broken = Broken.remote()
    with pytest.raises(ActorDiedError, match="bad init") as info:
        ray.get(broken.ping.remote())
    assert isinstance(info.value, RayActorError)
    with pytest.raises(ActorDiedError):
        ray.get(broken.ping.remote())


def test_process_death_fails_pending_calls(ray):
    counter = Counter.remote()
    pid = ray.get(counter.pid.remote())
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ActorDiedError, match="signal 9"):
        ray.get(counter.incr.remote(), timeout=60)


def test_exit_in_a_method_is_reported(ray):
    @ray.remote
    class Exits:
        def leave(self, code):
            os._exit(code)

    with pytest.raises(ActorDiedError, match="exited with code 3"):
        ray.get(Exits.remote().leave.remote(3), timeout=60)


def test_kill_ends_the_actor_and_can_restart_it(ray):
    counter = Counter.options(max_restarts=1).remote()
    pid = ray.get(counter.pid.remote())
    ray.kill(counter, no_restart=False)
    assert process_gone(pid)
    assert ray.get(counter.get.remote(), timeout=60) == 0
    ray.kill(counter)
    with pytest.raises(ActorDiedError, match="kill"):
        ray.get(counter.get.remote(), timeout=60)


def test_terminate_and_exit_actor_end_it_after_queued_calls(ray):
    @ray.remote
    class Leaves:
        def leave(self):
            fastray.actor.exit_actor()

        def ping(self):
            return "pong"

    leaves = Leaves.remote()
    assert ray.get(leaves.ping.remote()) == "pong"
    with pytest.raises(ActorDiedError, match="exited intentionally"):
        ray.get(leaves.leave.remote(), timeout=60)
    counter = Counter.remote()
    queued = [counter.incr.remote() for _ in range(5)]
    counter.__ray_terminate__.remote()
    assert ray.get(queued) == [1, 2, 3, 4, 5]
    with pytest.raises(ActorDiedError):
        ray.get(counter.incr.remote(), timeout=60)
    with pytest.raises(TypeError, match="outside an actor"):
        fastray.actor.exit_actor()


def test_last_handle_gone_ends_the_actor_after_its_calls(ray):
    counter = Counter.remote()
    pid = ray.get(counter.pid.remote())
    pending = [counter.incr.remote() for _ in range(20)]
    del counter
    assert ray.get(pending) == list(range(1, 21))
    assert process_gone(pid)


def test_a_handle_whose_methods_were_called_ends_without_the_garbage_collector(ray):
    # Methods are kept on the handle; they must not hold it in a cycle
    # that only a collection would end.
    counter = Counter.remote()
    pid = ray.get(counter.pid.remote())
    assert ray.get([counter.incr.remote(), counter.incr.options(num_returns=1).remote()]) == [1, 2]
    gc.disable()
    try:
        del counter
        assert process_gone(pid)
    finally:
        gc.enable()


def test_a_method_taken_from_a_handle_keeps_the_actor(ray):
    counter = Counter.remote()
    pid = ray.get(counter.pid.remote())
    incr = counter.incr
    del counter
    assert ray.get([incr.remote() for _ in range(3)]) == [1, 2, 3]
    # Also when the handle was never named at all.
    assert ray.get(Counter.remote(5).incr.remote()) == 6
    del incr
    assert process_gone(pid)


def test_a_method_pickled_into_a_task_calls_the_same_actor(ray):
    @ray.remote
    def call(method):
        return ray.get(method.remote())

    counter = Counter.remote()
    assert ray.get(call.remote(counter.incr)) == 1
    assert ray.get(call.remote(counter.incr.options(num_returns=1))) == 2
    assert ray.get(counter.get.remote()) == 2


def test_handles_held_elsewhere_keep_the_actor(ray):
    @ray.remote
    def call_later(holder):
        return ray.get(holder[0].incr.remote())

    counter = Counter.remote()
    pid = ray.get(counter.pid.remote())
    stored = ray.put([counter])
    del counter
    assert ray.get(call_later.remote(stored)) == 1
    assert ray.get(ray.get(stored)[0].incr.remote()) == 2
    del stored
    assert process_gone(pid)


def test_names_and_namespaces(ray):
    named = Counter.options(name="counter").remote()
    ray.get(named.incr.remote())
    found = ray.get_actor("counter")
    assert found == named and ray.get(found.get.remote()) == 1
    with pytest.raises(ValueError, match="already exists"):
        Counter.options(name="counter").remote()
    same = Counter.options(name="counter", get_if_exists=True).remote()
    assert ray.get(same.get.remote()) == 1
    other = Counter.options(name="counter", namespace="elsewhere").remote()
    assert ray.get(other.get.remote()) == 0
    assert ray.util.list_named_actors() == ["counter"]
    assert sorted(map(str, ray.util.list_named_actors(all_namespaces=True))) == sorted(map(str, [
        {"name": "counter", "namespace": ray.get_runtime_context().namespace},
        {"name": "counter", "namespace": "elsewhere"}]))
    with pytest.raises(ValueError, match="nobody"):
        ray.get_actor("nobody")
    del named, found, same
    # Named: kept without handles, until killed.
    assert ray.get(ray.get_actor("counter").get.remote()) == 1
    ray.kill(ray.get_actor("counter"))
    with pytest.raises(ValueError):
        ray.get_actor("counter")


def test_get_actor_from_a_task(ray):
    Counter.options(name="shared", lifetime="detached").remote(3)

    @ray.remote
    def use():
        return ray.get(ray.get_actor("shared").incr.remote())

    assert ray.get(use.remote()) == 4


def test_threaded_actor_can_get_inside_calls(ray):
    @ray.remote
    def square(x):
        return x * x

    @ray.remote(max_concurrency=3)
    class Getter:
        def run(self, x):
            return ray.get(square.remote(x))

    getter = Getter.remote()
    assert ray.get([getter.run.remote(i) for i in range(20)], timeout=60) == [
        i * i for i in range(20)]


@fastray.remote(max_concurrency=2, concurrency_groups={"io": 1})
class Gates:
    """Calls that block until another call opens their gate, and count how
    many run at once, per group."""

    def __init__(self):
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.running = {"default": 0, "io": 0}
        self.most = {"default": 0, "io": 0}

    def _enter(self, group):
        with self.lock:
            self.running[group] += 1
            self.most[group] = max(self.most[group], self.running[group])

    def _leave(self, group):
        with self.lock:
            self.running[group] -= 1

    def wait_for_gate(self):
        self._enter("default")
        try:
            return self.gate.wait(timeout=60)
        finally:
            self._leave("default")

    def pause(self):
        self._enter("default")
        time.sleep(0.01)
        self._leave("default")

    @fastray.method(concurrency_group="io")
    def open_gate(self):
        self._enter("io")
        time.sleep(0.01)
        self.gate.set()
        self._leave("io")
        return "opened"

    def most_at_once(self):
        return self.most


def test_threaded_actor_limits_each_group_and_never_stalls_behind_a_call(ray):
    gates = Gates.remote()
    # Both default-group slots block until a call of the io group opens the
    # gate: it must run beside them, and the calls queued behind them after.
    waiting = [gates.wait_for_gate.remote() for _ in range(2)]
    behind = [gates.pause.remote() for _ in range(6)]
    opened = [gates.open_gate.remote() for _ in range(3)]
    assert ray.get(opened, timeout=60) == ["opened"] * 3
    assert ray.get(waiting, timeout=60) == [True, True]
    ray.get(behind, timeout=60)
    assert ray.get(gates.most_at_once.remote(), timeout=60) == {"default": 2, "io": 1}


def test_async_actor_runs_coroutines_concurrently(ray):
    @ray.remote
    class Waiter:
        def __init__(self):
            self.event = asyncio.Event()

        async def wait(self):
            await self.event.wait()
            return "woke"

        async def wake(self):
            self.event.set()
            return "set"

        def sync_on_loop(self):
            return asyncio.get_running_loop() is not None

    waiter = Waiter.remote()
    waiting = [waiter.wait.remote() for _ in range(5)]
    assert ray.get(waiter.wake.remote(), timeout=60) == "set"
    assert ray.get(waiting, timeout=60) == ["woke"] * 5
    assert ray.get(waiter.sync_on_loop.remote()) is True


def test_an_async_actor_reads_frames_longer_than_one_read(ray):
    """Frames that one read of the socket cuts (an inline argument of 90 KiB,
    a burst of calls) reach the methods whole."""
    @ray.remote
    class Sizes:
        async def size(self, data):
            return len(data), data[-1:]

    sizes = Sizes.remote()
    lengths = [90 * 1024, 1, 70_000, 65_536 - 40] * 20
    got = ray.get([sizes.size.remote(b"x" * (n - 1) + b"y") for n in lengths], timeout=60)
    assert got == [(n, b"y") for n in lengths]


def test_async_actor_calls_run_inside_a_task(ray):
    """asyncio's task-bound tools (current_task, timeout) work in every
    call, from its first line on."""
    @ray.remote
    class Timed:
        async def first_line(self):
            return asyncio.current_task() is not None

        async def bounded(self, seconds):
            async with asyncio.timeout(seconds):
                await asyncio.sleep(0)
            try:
                async with asyncio.timeout(0.01):
                    await asyncio.sleep(30)
            except TimeoutError:
                return "timed out"

    timed = Timed.remote()
    assert ray.get(timed.first_line.remote(), timeout=60) is True
    assert ray.get(timed.bounded.remote(5), timeout=60) == "timed out"


def test_async_actor_max_concurrency_and_groups(ray):
    @ray.remote(max_concurrency=2, concurrency_groups={"io": 1})
    class Limited:
        def __init__(self):
            self.running = 0
            self.most = 0

        async def work(self):
            self.running += 1
            self.most = max(self.most, self.running)
            await asyncio.sleep(0.01)
            self.running -= 1

        @ray.method(concurrency_group="io")
        async def io(self):
            self.running += 1
            self.most = max(self.most, self.running)
            await asyncio.sleep(0.01)
            self.running -= 1

        async def most_seen(self):
            return self.most

    limited = Limited.remote()
    ray.get([limited.work.remote() for _ in range(10)], timeout=60)
    assert ray.get(limited.most_seen.remote()) == 2
    ray.get([limited.io.remote() for _ in range(4)], timeout=60)
    assert ray.get(limited.most_seen.remote()) == 2


def test_cancel_queued_and_running_calls(ray):
    slow = Counter.remote()
    started = f"/tmp/fastray-test-started-{os.getpid()}-{time.monotonic_ns()}"
    running = slow.spin_until_canceled.remote(started)
    queued = slow.get.remote()
    ray.cancel(queued)
    with pytest.raises(TaskCancelledError):
        ray.get(queued, timeout=60)
    while not os.path.exists(started):
        time.sleep(0.005)
    os.unlink(started)
    # force=True is refused for a call still pending (behind the running
    # one); as in Ray, a call already done has nothing left to cancel.
    behind = slow.get.remote()
    with pytest.raises(ValueError, match="force"):
        ray.cancel(behind, force=True)
    ray.cancel(running)
    with pytest.raises(TaskCancelledError):
        ray.get(running, timeout=60)
    assert ray.get(behind, timeout=60) == 0


def test_cancel_a_call_waiting_for_room_in_an_async_actor(ray):
    @ray.remote(max_concurrency=1, concurrency_groups={"control": 1})
    class Gate:
        def __init__(self):
            self.opened = asyncio.Event()
            self.holding = asyncio.Event()

        async def hold(self):
            self.holding.set()
            await self.opened.wait()
            return "held"

        async def quick(self):
            return "quick"

        @ray.method(concurrency_group="control")
        async def wait_holding(self):
            await self.holding.wait()

        @ray.method(concurrency_group="control")
        async def open(self):
            self.opened.set()

    gate = Gate.remote()
    held = gate.hold.remote()
    ray.get(gate.wait_holding.remote(), timeout=60)
    queued = gate.quick.remote()
    # Sent after it, so it reached the actor (and waits for room) when
    # this returns.
    ray.get(gate.wait_holding.remote(), timeout=60)
    ray.cancel(queued)
    with pytest.raises(TaskCancelledError):
        ray.get(queued, timeout=60)
    ray.get(gate.open.remote(), timeout=60)
    assert ray.get(held, timeout=60) == "held"
    # The cancelled call took no place: the next call runs.
    assert ray.get(gate.quick.remote(), timeout=60) == "quick"


def test_cancel_running_coroutine(ray):
    @ray.remote
    class Sleeper:
        def __init__(self):
            self.started = asyncio.Event()
            self.cancelled = False

        async def sleep(self):
            self.started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.cancelled = True
                raise

        async def wait_started(self):
            await self.started.wait()

        async def was_cancelled(self):
            return self.cancelled

    sleeper = Sleeper.remote()
    ref = sleeper.sleep.remote()
    ray.get(sleeper.wait_started.remote(), timeout=60)
    ray.cancel(ref)
    with pytest.raises(TaskCancelledError):
        ray.get(ref, timeout=60)
    assert ray.get(sleeper.was_cancelled.remote(), timeout=60) is True


def test_default_actors_hold_no_cpu(ray):
    actors = [Counter.remote(i) for i in range(20)]
    assert ray.get([a.incr.remote() for a in actors], timeout=60) == list(range(1, 21))
    assert ray.available_resources()["CPU"] == 2


def test_an_actor_with_cpus_holds_them_for_its_life(ray):
    holder = Counter.options(num_cpus=2).remote()
    assert ray.get(holder.incr.remote()) == 1
    assert "CPU" not in ray.available_resources()

    @ray.remote
    def task():
        return "ran"

    waiting = task.remote()
    ready, _ = ray.wait([waiting], timeout=0.3)
    assert ready == []
    ray.kill(holder)
    assert ray.get(waiting, timeout=60) == "ran"


def test_max_pending_calls(ray):
    @ray.remote(max_pending_calls=2)
    class Gate:
        def wait_for(self, path):
            while not os.path.exists(path):
                time.sleep(0.005)

    gate = Gate.remote()
    path = f"/tmp/fastray-test-pending-{os.getpid()}-{time.monotonic_ns()}"
    refs = [gate.wait_for.remote(path) for _ in range(2)]
    with pytest.raises(PendingCallsLimitExceeded):
        gate.wait_for.remote(path)
    open(path, "w").close()
    try:
        ray.get(refs, timeout=60)
        ray.get(gate.wait_for.remote(path), timeout=60)
    finally:
        os.unlink(path)


def test_runtime_context_in_and_out_of_actors(ray):
    @ray.remote
    class Who:
        def who(self):
            context = ray.get_runtime_context()
            return context.get_actor_id(), context.get_actor_name(), repr(context.current_actor)

    anonymous = Who.remote()
    actor_id, name, handle = ray.get(anonymous.who.remote())
    assert actor_id == f"{anonymous.actor_id:016x}" and name == ""
    assert handle == repr(anonymous)
    named = Who.options(name="who").remote()
    assert ray.get(named.who.remote())[1] == "who"
    context = ray.get_runtime_context()
    assert context.get_actor_id() is None and context.get_actor_name() is None
    with pytest.raises(RuntimeError):
        context.current_actor


def test_prints_carry_the_class_name(capfd):
    ray = fastray
    ray.init(num_cpus=1)  # started now, so the actor writes into capfd's file

    @ray.remote
    class Talker:
        def say(self):
            print("hello from the actor")
            return os.getpid()

    pid = ray.get(Talker.remote().say.remote())
    deadline = time.monotonic() + 30
    out = ""
    while time.monotonic() < deadline and "hello" not in out:
        out += capfd.readouterr().out
        time.sleep(0.01)
    assert f"(Talker pid={pid}) hello from the actor" in out


def test_actors_do_not_count_against_max_workers(ray):
    actors = [Counter.remote() for _ in range(3 * 8)]
    assert sum(ray.get([a.incr.remote() for a in actors], timeout=60)) == 24

    @ray.remote
    def task(x):
        return x

    assert ray.get([task.remote(i) for i in range(50)], timeout=60) == list(range(50))


def test_the_readme_actor_example_runs():
    with open(os.path.join(os.path.dirname(__file__), "..", "README.md")) as file:
        readme = file.read()
    section = readme[readme.index("## Actors"):]
    code = section[section.index("```python") + len("```python"):section.index("```\n", 10)]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
