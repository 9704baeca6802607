"""The spawner process's loop: forks every worker on the driver's request.

It runs in the process spawner.launch starts, and only there.  The driver
asks for workers (SPAWN, or SPAWN_ACTOR for an actor's process, with the
worker's socket attached); the spawner reports each new worker's pid and,
when a worker ends, its wait status, which is how the scheduler learns why
a worker died.  When the driver goes away (shutdown or a crash) its
socket reads EOF and the spawner kills and reaps every worker before
exiting, so nothing outlives the driver.
"""
from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import socket
import sys
from typing import Any

from . import wire
from .wire import HEADER

PRELOAD_QUIET_MS = 30


def _serve(control: socket.socket, store: tuple[int, int]) -> None:
    # Imported only now, once main has put the driver's sys.path in place:
    # the worker's imports (the user's modules) resolve as in the driver.
    from .worker import run_worker

    children: dict[int, int] = {}
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    poller = select.poll()
    poller.register(control, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    # None: not yet; then the milliseconds of quiet to wait for (the
    # first worker imports what its first task needs meanwhile, without
    # this process taking a core from it); 0: done.
    preload_after: int | None = None
    actors_preloaded = False
    while True:
        try:
            events = poller.poll(preload_after or None)
        except InterruptedError:
            continue
        if not events and preload_after:
            _preload()
            preload_after = 0
        for fd, _ in events:
            if fd == wake_r:
                _drain(wake_r)
                _reap(control, children)
                continue
            try:
                message, fds, _, _ = socket.recv_fds(control, HEADER.size, 1)
            except ConnectionError:
                message, fds = b"", []
            if not message:
                _kill_all(children)
                return
            _, kind, slot, origin = HEADER.unpack(message)
            if kind not in (wire.SPAWN, wire.SPAWN_ACTOR) or not fds:
                continue
            if kind == wire.SPAWN_ACTOR and not actors_preloaded:
                _preload_actor_host()
                actors_preloaded = True
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(wake_r)
                os.close(wake_w)
                control.close()
                run_worker(fds[0], slot, origin, store, _host_actor)  # never returns
            os.close(fds[0])
            children[pid] = slot
            _report(control, HEADER.pack(0, wire.SPAWNED, slot, pid))
            if preload_after is None:
                preload_after = PRELOAD_QUIET_MS


def _host_actor(*args: Any) -> None:
    """Makes the worker an actor's process."""
    from .actor_host import host_actor
    host_actor(*args)


def _preload() -> None:
    """Imports what a worker needs only for values beyond plain builtins or
    for errors (cloudpickle), once the first worker is forked and no
    request came for PRELOAD_QUIET_MS: the first task starts sooner, and
    later workers inherit these modules, shared, instead of importing them
    anew.  Then every object here is frozen out of the collector's sight: a
    collection in a worker would write to each object's header, and so
    copy every page the spawner shares with it (1.6 MB more per idle actor,
    when one came soon after the fork)."""
    from . import pickler, scheduling, task_errors  # noqa: F401
    gc.freeze()


def _preload_actor_host() -> None:
    """Imports what an actor's process runs (asyncio among it), as the first
    actor's process is asked for: every actor forked from here shares it.
    Not before: a program without actors would carry its memory (about
    8 MB of the spawner's) for nothing."""
    from . import actor_host  # noqa: F401
    gc.freeze()


def _report(control: socket.socket, message: bytes) -> None:
    """Tells the driver; if it is gone, the next receive sees EOF and ends us."""
    try:
        control.send(message)
    except OSError:
        pass


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _reap(control: socket.socket, children: dict[int, int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        slot = children.pop(pid, None)
        if slot is not None:
            _report(control, HEADER.pack(0, wire.EXITED, slot, (pid << 32) | (status & 0xFFFFFFFF)))


def _kill_all(children: dict[int, int]) -> None:
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def main() -> None:
    """The spawner's entry point (spawner.BOOTSTRAP): its argv holds the
    descriptors of the driver's socket and of the start message."""
    from . import _cancel_signal

    control = socket.socket(fileno=int(sys.argv[1]))
    with open(int(sys.argv[2]), "rb") as start:
        config = pickle.load(start)
    sys.path[:] = config["sys_path"]
    os.chdir(config["cwd"])
    # Ctrl-C at the terminal is for the driver; it decides what to cancel.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Workers inherit the mask: a cancel sent to one before it installs its
    # handler stays pending instead of being lost.
    signal.pthread_sigmask(signal.SIG_BLOCK, {_cancel_signal.SIGNAL})
    try:
        _serve(control, (config["store_fd"], config["store_size"]))
    finally:
        # Whoever ends first, the session's files go with the spawner.
        import shutil
        shutil.rmtree(config["session_dir"], ignore_errors=True)
    # Nothing is left to tidy: skipping the interpreter's teardown (modules
    # the workers' code imported) lets shutdown() return sooner.
    os._exit(0)


if __name__ == "__main__":
    main()
