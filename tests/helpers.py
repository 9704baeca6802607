"""Helpers shared by the test modules."""
from __future__ import annotations

import os
import socket
import time
from typing import NoReturn

import pytest

import fastray

# Ray on one machine: every address on loopback, no cluster-wide IP.
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token"}
# Ray's workers import the functions and classes that test modules define, by
# name, as for any module a Ray program imports: they get the tests' directory
# (Ray's semantics; fastray's local workers get the driver's sys.path).
RUNTIME_ENV = {"env_vars": {"PYTHONPATH": os.pathsep.join([
    os.path.dirname(__file__), os.path.dirname(os.path.dirname(fastray.__file__))])}}


def in_ci() -> bool:
    """Whether the suite runs under CI (the CI variable set, as CI services do)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def requirement_missing(reason: str) -> NoReturn:
    """Skips a test that needs something outside the repository, with the reason shown;
    under CI, where that thing is provided on purpose, fails it instead."""
    if in_ci():
        pytest.fail(f"{reason} (required when CI is set)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_file(path, timeout: float = 20.0) -> None:
    """Waits until a task has created path (a condition, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.01)


def assert_pool_works(ray) -> None:
    """After a failure: the pool still runs tasks and returns right results."""
    @ray.remote
    def square(x):
        return x * x

    assert ray.get([square.remote(i) for i in range(8)], timeout=30) == [
        i * i for i in range(8)]


def square(x):
    return x * x


def fails(x):
    raise ValueError(f"bad {x}")


def assert_consumed_lazily(stream) -> None:
    """stream(iterable) gives the squares of the items; it must take items
    from a long generator only as results are asked for."""
    pulled = 0

    def numbers():
        nonlocal pulled
        for i in range(100_000):
            pulled += 1
            yield i

    results = stream(numbers())
    assert [next(results) for _ in range(3)] == [0, 1, 4]
    assert pulled < 1_000


STORE_MEMFD = "/memfd:fastray-object-store"


def store_inode(pid: int) -> int:
    """The inode of the object store's memfd that a driver (pid) holds open: it names
    that one store, whatever other fastray programs run on the machine."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        path = f"/proc/{pid}/fd/{fd}"
        try:
            if os.readlink(path).startswith(STORE_MEMFD):
                inodes.add(os.stat(path).st_ino)
        except FileNotFoundError:  # closed since the listing (listdir's own fd, for one)
            continue
    assert len(inodes) == 1, f"process {pid} holds {len(inodes)} object stores"
    return inodes.pop()


def current_store_inode() -> int:
    """The inode of this process's running runtime's store (a runtime that
    ended may still be handing its store's memory back, from a thread)."""
    return os.fstat(fastray.state.backend._store_fd).st_ino


def store_holders(inode: int) -> set[int]:
    """The processes, other than this one, that map or hold the store with this inode."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/maps") as maps:
                if any(STORE_MEMFD in line and int(line.split()[4]) == inode for line in maps):
                    found.add(int(entry))
                    continue
            for fd in os.listdir(f"/proc/{entry}/fd"):
                path = f"/proc/{entry}/fd/{fd}"
                if os.readlink(path).startswith(STORE_MEMFD) and os.stat(path).st_ino == inode:
                    found.add(int(entry))
                    break
        except OSError:
            continue
    return found
