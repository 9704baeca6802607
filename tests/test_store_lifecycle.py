"""However a driver ends, its object store goes with it: no worker, no
spill file and no shared memory (the memfd, or anything in /dev/shm) is
left behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import fastray

from test_lifecycle import alive, wait_gone

STORE_NAME = "memfd:fastray-object-store"

DRIVER = textwrap.dedent("""
    import sys, time
    import numpy as np
    import fastray as ray

    context = ray.init(num_cpus=2, object_store_memory=64 * 2**20)

    @ray.remote
    def make(i):
        return np.full(2_000_000, i)

    @ray.remote
    def sleepy():
        time.sleep(60)

    refs = [ray.put(np.full(2_000_000, i)) for i in range(6)]   # 96 MB: some spill
    results = ray.get([make.remote(i) for i in range(2)])
    stats = ray.object_store_stats()
    print("ready", stats["spilled_objects"], context.address_info["session_dir"],
          *context.worker_pids, context.spawner_pid, flush=True)
    sys.stdin.readline()
    mode = sys.argv[1]
    if mode == "shutdown":
        ray.shutdown()
    elif mode == "exception":
        raise RuntimeError("the driver failed")
    elif mode in ("ctrl-c", "kill"):
        ray.get(sleepy.remote())
""")

ENDINGS = ["shutdown", "exit", "exception", "ctrl-c", "kill"]


def processes_mapping_the_store() -> set[int]:
    """Other processes that map or hold a fastray store."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/maps") as maps:
                if STORE_NAME in maps.read():
                    found.add(int(entry))
                    continue
            for fd in os.listdir(f"/proc/{entry}/fd"):
                if STORE_NAME in os.readlink(f"/proc/{entry}/fd/{fd}"):
                    found.add(int(entry))
                    break
        except OSError:
            continue
    return found


@pytest.mark.timeout(90)
@pytest.mark.parametrize("ending", ENDINGS)
def test_no_store_memory_spill_file_or_process_outlives_the_driver(tmp_path, ending):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    shm_before = set(os.listdir("/dev/shm"))
    mapped_before = processes_mapping_the_store()
    env = dict(os.environ, PYTHONPATH=str(Path(fastray.__file__).parents[1]))
    with subprocess.Popen([sys.executable, str(script), ending], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as driver:
        fields = driver.stdout.readline().split()
        assert fields and fields[0] == "ready", driver.stderr.read()
        spilled, session_dir, pids = int(fields[1]), Path(fields[2]), [int(p) for p in fields[3:]]
        assert spilled > 0 and os.listdir(session_dir / "spill")
        assert processes_mapping_the_store() - mapped_before >= set(pids)
        driver.stdin.write("go\n")
        driver.stdin.flush()
        if ending == "ctrl-c":
            time.sleep(0.3)
            driver.send_signal(signal.SIGINT)
        elif ending == "kill":
            driver.kill()
        driver.wait(timeout=60)
    assert wait_gone(pids, 10) == [], "a worker or the spawner outlived the driver"
    assert all(not alive(p) for p in pids)
    deadline = time.monotonic() + 10
    while session_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not session_dir.exists(), "the session dir (and its spill files) was left behind"
    assert processes_mapping_the_store() - mapped_before == set()
    assert set(os.listdir("/dev/shm")) - shm_before == set()
