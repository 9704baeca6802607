"""Fixtures shared by the tests: a runtime per test, and a check that
nothing (worker processes, session files) is left behind after shutdown."""
from __future__ import annotations

import os

import pytest

import fastray


def descendants(pid: int) -> set[int]:
    """Every live process below pid (read from /proc, no dependencies)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


@pytest.fixture(autouse=True)
def no_leftovers():
    """Fails a test that leaves a runtime, a process or a session dir behind."""
    before = descendants(os.getpid())
    yield
    fastray.shutdown()
    left = descendants(os.getpid()) - before
    assert not left, f"processes left after shutdown(): {sorted(left)}"


@pytest.fixture
def ray():
    """A 2-CPU runtime, shut down after the test."""
    context = fastray.init(num_cpus=2)
    yield fastray
    context.disconnect()
