"""The dashboard's server: token, JSON state, ports.  (Off unless asked.)"""
from __future__ import annotations

import json
import logging
import os
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
import urllib.error
import urllib.request

import pytest

import fastray
from fastray import dashboard
from fastray.dashboard import DEFAULT_PORT

from helpers import fails, wait_for_file


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def page_url(context) -> str:
    """Ray's form of the URL has no scheme, so that ``http://{webui_url}`` works."""
    return "http://" + context.dashboard_url


def state_url(context) -> str:
    return page_url(context).replace("/?", "/api/state?")


def test_off_unless_asked():
    context = fastray.init(num_cpus=1)
    assert context.dashboard_url is None and context.address_info["webui_url"] is None


def test_the_token_guards_every_request():
    context = fastray.init(num_cpus=1, include_dashboard=True)
    assert context.dashboard_url.startswith("127.0.0.1:")
    assert context.address_info["webui_url"] == context.dashboard_url
    assert "dashboard_url='127.0.0.1:" in repr(context)
    base = page_url(context).split("?")[0]
    assert fetch(base)[0] == 403
    assert fetch(base + "api/state")[0] == 403
    assert fetch(base + "api/state?token=wrong")[0] == 403
    status, page = fetch(page_url(context))
    assert status == 200 and b"fastray dashboard" in page
    assert fetch(state_url(context))[0] == 200


def test_a_non_ascii_token_is_refused_quietly(capfd):
    """Any page in the browser can send these: a 403, never a traceback."""
    base = page_url(fastray.init(num_cpus=1, include_dashboard=True)).split("?")[0]
    capfd.readouterr()
    for token in ("%C3%A9", "%FF", "caf%C3%A9%00", "%ED%A0%80"):
        assert fetch(f"{base}?token={token}")[0] == 403
        assert fetch(f"{base}api/state?token={token}")[0] == 403
    assert capfd.readouterr().err == ""


def request_threads() -> int:
    """The server's live per-connection threads (socketserver names them)."""
    return sum(t.name.endswith("(process_request_thread)") for t in threading.enumerate())


def test_a_silent_connection_is_closed_and_its_thread_ends(monkeypatch):
    monkeypatch.setattr(dashboard, "CONNECTION_TIMEOUT_S", 0.5)
    context = fastray.init(num_cpus=1, include_dashboard=True)
    port = int(context.dashboard_url.split(":")[1].split("/")[0])
    before = request_threads()
    clients = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(20)]
    try:
        for client in clients:
            client.sendall(b"GET /?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends
        for client in clients:
            assert client.recv(1024) == b"", "the server answered a request never finished"
    finally:
        for client in clients:
            client.close()
    deadline = time.monotonic() + 30
    while request_threads() > before:
        assert time.monotonic() < deadline, f"{request_threads() - before} threads still held"
        time.sleep(0.05)


def test_a_client_that_resets_mid_request_leaves_no_traceback(capfd):
    context = fastray.init(num_cpus=1, include_dashboard=True)
    port = int(context.dashboard_url.split(":")[1].split("/")[0])
    before = request_threads()
    capfd.readouterr()
    for _ in range(10):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # Answered only once the server has accepted every connection before it.
    assert fetch(page_url(context).split("?")[0])[0] == 403
    deadline = time.monotonic() + 30
    while request_threads() > before:
        assert time.monotonic() < deadline, "the reset connections were never handled"
        time.sleep(0.05)
    assert capfd.readouterr().err == ""


def test_a_burst_of_200_requests_is_all_answered():
    context = fastray.init(num_cpus=1, include_dashboard=True)
    server = fastray.api.state.backend.dashboard._server
    assert server.request_queue_size >= 128
    base = page_url(context).split("?")[0]
    start = time.monotonic()
    with ThreadPoolExecutor(200) as pool:
        statuses = list(pool.map(lambda _: fetch(base)[0], range(200)))
    print(f"200 concurrent requests answered in {time.monotonic() - start:.2f} s")
    assert statuses == [403] * 200


def test_the_state_adds_up_and_shows_failures_and_crashes():
    context = fastray.init(num_cpus=2, include_dashboard=True)

    @fastray.remote(max_retries=0)
    def dies():
        os._exit(3)

    refs = [fastray.remote(lambda i: i).remote(i) for i in range(40)]
    assert fastray.get(refs) == list(range(40))
    for task in (fastray.remote(max_retries=0)(fails).remote(1), dies.remote()):
        with pytest.raises(Exception):
            fastray.get(task)
    state = json.loads(fetch(state_url(context))[1])
    tasks = state["tasks"]
    assert (tasks["finished"], tasks["failed"], tasks["crashed"], tasks["cancelled"]) == (
        40, 1, 1, 0)
    assert tasks["pending"] == tasks["running"] == tasks["queued"] == 0
    # The crashed worker's replacement may still be starting (no pid yet).
    running = [w for w in state["workers"] if w["state"] in ("idle", "busy")]
    assert running and all(w["pid"] > 0 and w["rss_bytes"] > 0 for w in running)
    assert {w["state"] for w in state["workers"]} <= {
        "idle", "busy", "blocked", "starting", "exiting"}
    assert {"failed", "crashed", "finished"} <= {t["state"] for t in state["recent"]}
    assert state["store"]["capacity"] > 0 and state["timeline"]
    errors = {error["function"]: error for error in state["errors"]}
    assert set(errors) == {"fails", "dies"}
    assert (errors["fails"]["state"], errors["fails"]["error"]) == ("failed", "ValueError: bad 1")
    assert errors["dies"]["state"] == "crashed"
    assert errors["dies"]["error"].startswith("WorkerCrashedError: ")
    assert {t["error"] for t in state["recent"] if t["state"] == "finished"} == {None}
    assert "ValueError: bad 1" in {t["error"] for t in state["recent"]}


def test_a_failure_nobody_held_is_listed_without_its_error():
    context = fastray.init(num_cpus=1, include_dashboard=True)
    fastray.remote(max_retries=0)(fails).remote(1)   # the ref is dropped at once
    deadline = time.monotonic() + 30
    while not (errors := json.loads(fetch(state_url(context))[1])["errors"]):
        assert time.monotonic() < deadline, "the failure never appeared"
        time.sleep(0.05)
    assert errors[0]["function"] == "fails" and errors[0]["error"].startswith("(not kept")


def test_an_error_too_large_to_keep_is_named_not_shown():
    context = fastray.init(num_cpus=1, include_dashboard=True)

    @fastray.remote(max_retries=0)
    def fails_loudly():
        raise RuntimeError("x" * 200_000)

    with pytest.raises(RuntimeError):
        fastray.get(fails_loudly.remote())
    (error,) = json.loads(fetch(state_url(context))[1])["errors"]
    assert error["error"].startswith("(the error is too large to show here")


def test_the_environment_switch_turns_it_on(monkeypatch):
    monkeypatch.setenv("FASTRAY_INCLUDE_DASHBOARD", "1")
    assert fastray.init(num_cpus=1).dashboard_url.startswith("127.0.0.1:")
    fastray.shutdown()
    assert fastray.init(num_cpus=1, include_dashboard=False).dashboard_url is None


@pytest.mark.slow
def test_the_state_stays_bounded_after_100k_tasks():
    context = fastray.init(num_cpus=2, include_dashboard=True)
    noop = fastray.remote(lambda: None)
    for _ in range(10):
        fastray.get([noop.remote() for _ in range(10_000)])
    status, body = fetch(state_url(context))
    state = json.loads(body)
    assert status == 200 and state["tasks"]["finished"] >= 100_000
    # Tens of thousands of tasks ended in the last 10 s; the strip gets merged
    # segments and the page a bounded answer.
    assert sum(segment["tasks"] for segment in state["timeline"]) >= 10_000
    assert len(state["timeline"]) <= 2_000 + len(state["workers"])
    assert len(state["recent"]) == 50
    assert len(body) < 1_000_000


def test_the_default_port_falls_back_to_a_free_one(caplog):
    with socket.socket() as taken:
        # Earlier tests' connections may linger in TIME_WAIT on this port.
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            taken.bind(("127.0.0.1", DEFAULT_PORT))
            taken.listen()
        except OSError:
            pass  # already taken by someone else: the fallback is exercised anyway
        with caplog.at_level(logging.WARNING, logger="fastray"):
            context = fastray.init(num_cpus=1, include_dashboard=True)
        port = int(context.dashboard_url.split(":")[1].split("/")[0])
        assert port != DEFAULT_PORT
        assert f"port {DEFAULT_PORT} is in use; the dashboard is on port {port}" in caplog.text
        assert fetch(state_url(context))[0] == 200


def test_an_explicit_port_in_use_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"dashboard_port={port} is not available"):
            fastray.init(num_cpus=1, include_dashboard=True, dashboard_port=port)
    assert not fastray.is_initialized()
    with pytest.raises(ValueError, match="dashboard_port"):
        fastray.init(num_cpus=1, include_dashboard=True, dashboard_port=70000)


def test_the_demo_prints_its_url_and_stops_by_itself():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "fastray", "dashboard", "--demo", "--seconds", "1"],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fastray.__file__))))
    assert result.returncode == 0, result.stderr
    assert "fastray dashboard: http://127.0.0.1:" in result.stdout
    assert "token=" in result.stdout and "Unhandled error" not in result.stderr


def poll_state(context, until, what: str) -> dict:
    """The dashboard's state once ``until(state)`` holds (30 s at most)."""
    deadline = time.monotonic() + 30
    while not until(state := json.loads(fetch(state_url(context))[1])):
        assert time.monotonic() < deadline, f"{what} never showed"
        time.sleep(0.05)
    return state


def test_the_state_lists_actors_and_their_calls_on_their_rows(tmp_path):
    context = fastray.init(num_cpus=2, include_dashboard=True)

    @fastray.remote(max_restarts=1)
    class Gate:
        def pid(self):
            return os.getpid()

        def hold(self, marker, release):
            from helpers import wait_for_file
            open(marker, "w").close()
            wait_for_file(release)

        def other(self):
            return 1

    @fastray.remote
    class Broken:
        def __init__(self):
            raise ValueError("bad init")

        def ping(self):
            return 1

    broken = Broken.remote()   # a dead actor is listed while a handle is left
    with pytest.raises(fastray.exceptions.ActorDiedError):
        fastray.get(broken.ping.remote(), timeout=60)
    gate = Gate.options(name="gate").remote()
    first = fastray.get(gate.pid.remote())
    fastray.kill(gate, no_restart=False)
    pid = fastray.get(gate.pid.remote(), timeout=60)
    assert pid != first
    fastray.get([gate.other.remote() if i % 2 else gate.pid.remote() for i in range(200)])
    marker, release = tmp_path / "started", tmp_path / "release"
    held = gate.hold.remote(str(marker), str(release))
    queued = [gate.other.remote() for _ in range(2)]
    wait_for_file(marker)
    try:
        state = poll_state(context, lambda s: any(a["call"] for a in s["actors"]),
                           "the held call")
    finally:
        release.touch()
    assert fastray.get([held] + queued) == [None, 1, 1]
    actors = {actor["class_name"]: actor for actor in state["actors"]}
    assert set(actors) == {"Gate", "Broken"}
    assert state["actor_states"] == {"alive": 1, "restarting": 0, "pending": 0, "dead": 1}
    assert [a["class_name"] for a in state["actors"]] == ["Gate", "Broken"]  # live first
    live, dead = actors["Gate"], actors["Broken"]
    assert (live["name"], live["pid"], live["state"]) == ("gate", pid, "alive")
    assert live["restarts"] == 1
    assert live["pending_calls"] == 3 and live["call"]["function"] == "Gate.hold"
    assert live["death_cause"] is None and live["row"] == f"actor Gate {pid}"
    assert dead["state"] == "dead" and "bad init" in dead["death_cause"]
    # The strip: the actor's calls on its row, the running call among them,
    # the workers' rows first.
    rows = state["timeline_rows"]
    workers = [w["pid"] for w in state["workers"] if w["pid"] > 0 and w["state"] != "actor"]
    assert f"actor Gate {pid}" in rows and f"worker {workers[0]}" in rows
    kinds = [row.split()[0] for row in rows]
    assert kinds == sorted(kinds, reverse=True)   # "worker" rows, then "actor" rows
    on_row = [s for s in state["timeline"] if s["row"] == f"actor Gate {pid}"]
    assert sum(s["tasks"] for s in on_row if s["state"] == "finished") >= 200
    assert {"", "Gate.hold"} <= {s["function"] for s in on_row}   # "": methods merged
    assert [s["function"] for s in on_row if s["state"] == "running"] == ["Gate.hold"]
    assert all(s["row"] in rows for s in state["timeline"])
