"""The live dashboard: a page and a JSON endpoint served by the driver, on
127.0.0.1 only, behind an unguessable token.

``init(include_dashboard=True)`` starts it (off by default: a library inside
numeric scripts opens no port unless asked).  ``GET /?token=T`` is the page
(plain HTML, CSS and JavaScript from this package, no network needed);
``GET /api/state?token=T`` is the JSON behind it, for scripts:

    {"time": seconds since the epoch,
     "workers": [{"pid", "state", "queued", "cpu_percent", "rss_bytes", "gpus",
                  "task": {"id", "function", "started_ns", "running_s"} | null}],
     "tasks": {"pending", "running", "queued", "finished", "failed", "cancelled",
               "crashed"},
     "throughput": [[seconds ago, tasks ended per second], ...]  (last 5 minutes,
                   sampled once a second),
     "recent": [{"id", "function", "state", "pid", "duration_ms", "error"}]  (newest 50;
               error is "Type: message" or null),
     "errors": [{"id", "function", "state", "pid", "error"}]  (the latest 20 tasks that
               failed, crashed or were cancelled, newest first),
     "actors": [{"id", "class_name", "name", "namespace", "pid", "state",
                 "pending_calls", "restarts", "calls_done", "num_cpus", "gpus", "death_cause",
                 "row", "call": {"function", "running_s"} | null}]  (live ones first, then
               the dead; at most 200; state is pending, alive, restarting or dead),
     "actor_states": {"pending", "alive", "restarting", "dead"}  (how many, of all),
     "resources": {"CPU" | "GPU" | a declared custom resource: {"total", "used"}},
     "timeline": [{"function", "pid", "row", "start", "end", "state", "tasks"}]  (last
                 10 s: a segment per task, except that each row's consecutive
                 sub-5-ms tasks of one outcome are merged; at most the newest
                 2,000, plus the running tasks and actor calls; times in seconds
                 ago; function "" where several ran),
     "timeline_rows": ["worker PID", ..., "actor CLASS PID", ...]  (the strip's
                 rows, in order: each worker's, then each actor's),
     "store": {"capacity", "bytes", "objects", "spilled_bytes", "spilled_objects",
               "largest": [{"id", "bytes", "spilled"}]}}

Requests without the token get 403.  The server never blocks on one client:
the listen backlog takes a burst of page loads, and a connection that sends
nothing for CONNECTION_TIMEOUT_S seconds is closed, freeing its thread.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from .serialization import error_of
from .trace import row_of, short_name

logger = logging.getLogger("fastray")

DEFAULT_PORT = 8265          # Ray's dashboard port
HISTORY_SECONDS = 300
SAMPLE_SECONDS = 1.0
RECENT_TASKS = 50
ERROR_TEXT_MAX = 300
TIMELINE_SECONDS = 10
TIMELINE_MERGE_GAP_NS = 5_000_000   # under a pixel of the page's 10 s strip
TIMELINE_SEGMENTS = 2000            # bounds each response, however many tasks ran
CONNECTION_TIMEOUT_S = 10.0         # a silent client is dropped after this long
ACTORS_SHOWN = 200                  # bounds each response, however many actors live
ACTOR_STATES = ("alive", "restarting", "pending", "dead")   # the order they are listed in
PAGE = Path(__file__).with_name("dashboard.html")


class Dashboard:
    """The HTTP server of one runtime, and the history its page shows.

    A sampler thread looks at the runtime once a second, whether or not a
    page is open, so the throughput history and the CPU figures do not depend
    on how many clients poll.
    """

    def __init__(self, runtime: Any, port: int | None) -> None:
        self.runtime = runtime
        self.token = secrets.token_urlsafe(24)
        self._history: deque[tuple[float, int]] = deque(maxlen=int(HISTORY_SECONDS /
                                                                   SAMPLE_SECONDS) + 1)
        self._cpu_seconds: dict[int, tuple[float, float]] = {}
        self._usage: dict[int, tuple[float, int]] = {}
        self._error_texts: dict[int, str] = {}
        self._stopping = threading.Event()
        self._server = _bind(port, _handler(self))
        self.port = self._server.server_address[1]
        #: Ray's form, without the scheme: ``127.0.0.1:PORT/?token=...``.
        self.address = f"127.0.0.1:{self.port}/?token={self.token}"
        self.url = "http://" + self.address
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="fastray-dashboard",
                             daemon=True),
            threading.Thread(target=self._sample, name="fastray-dashboard-sampler",
                             daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join()

    def state(self) -> dict[str, Any]:
        now = time.time()
        snapshot = self.runtime.snapshot()
        for worker in snapshot["workers"]:
            usage = self._usage.get(worker["pid"])
            worker["cpu_percent"], worker["rss_bytes"] = (
                usage if usage is not None else (0.0, _rss(worker["pid"])))
            task = worker["task"]
            if task is not None:
                task["function"] = short_name(task["function"])
                task["running_s"] = max(0.0, now - task["started_ns"] / 1e9)
        errors = self._errors()
        events = self.runtime.task_events(RECENT_TASKS)
        segments = self.runtime.timeline(int((now - TIMELINE_SECONDS) * 1e9),
                                         TIMELINE_MERGE_GAP_NS, TIMELINE_SEGMENTS)
        store = self.runtime.store_stats()
        total, free = self.runtime.resources()
        actors = self._actors(now)
        timeline = [{"function": "" if several else short_name(name), "pid": pid,
                     "row": row_of(name, pid, actor), "state": outcome,
                     "start": now - start / 1e9, "end": now - end / 1e9, "tasks": tasks}
                    for pid, outcome, start, end, tasks, name, several, actor in segments]
        timeline += [{"function": w["task"]["function"], "pid": w["pid"],
                      "row": row_of("", w["pid"], 0), "state": "running",
                      "start": w["task"]["running_s"], "end": 0.0, "tasks": 1}
                     for w in snapshot["workers"] if w["task"] is not None]
        timeline += [{"function": a["call"]["function"], "pid": a["pid"], "row": a["row"],
                      "state": "running", "start": a["call"]["running_s"], "end": 0.0,
                      "tasks": 1}
                     for a in actors if a["call"] is not None and a["pid"] > 0]
        return {
            "time": now, "workers": snapshot["workers"], "tasks": snapshot["tasks"],
            "throughput": _rates(list(self._history), now),
            "recent": [{"id": f"{task_id:016x}", "function": short_name(name), "state": outcome,
                        "pid": pid, "duration_ms": (end - (start or end)) / 1e6,
                        "error": self._error_texts.get(task_id)}
                       for task_id, name, pid, outcome, _, start, end, _ in events][::-1],
            "errors": errors,
            "resources": {name: {"total": amount, "used": amount - free.get(name, 0.0)}
                          for name, amount in total.items() if _shown(name)},
            "actors": actors[:ACTORS_SHOWN],
            "actor_states": {name: sum(a["state"] == name for a in actors)
                             for name in ACTOR_STATES},
            "timeline": timeline,
            "timeline_rows": _timeline_rows(snapshot["workers"], actors, timeline),
            "store": {"capacity": store["capacity"], "bytes": store["bytes"],
                      "objects": store["objects"], "spilled_bytes": store["spilled_bytes"],
                      "spilled_objects": store["spilled_objects"],
                      "largest": snapshot["largest_objects"]},
        }

    def _actors(self, now: float) -> list[dict[str, Any]]:
        """Every actor, live ones first, each with its timeline row and how
        long its oldest call in progress has run."""
        actors = self.runtime.actors()
        for actor in actors:
            actor["row"] = row_of(actor["class_name"], actor["pid"], 1)
            call = actor["call"]
            if call is not None:
                actor["call"] = {"function": short_name(call["function"]),
                                 "running_s": max(0.0, now - call["started_ns"] / 1e9)}
        return sorted(actors, key=lambda a: (ACTOR_STATES.index(a["state"]),
                                             a["class_name"], a["pid"]))

    def _errors(self) -> list[dict[str, Any]]:
        """The latest failed, crashed and cancelled tasks, newest first, each
        error decoded once."""
        failures = self.runtime.failures()
        self._error_texts = {task_id: self._error_texts.get(task_id)
                             or _error_text(payload, too_large)
                             for task_id, _, _, _, payload, too_large in failures}
        return [{"id": f"{task_id:016x}", "function": short_name(name), "state": outcome,
                 "pid": pid, "error": self._error_texts[task_id]}
                for task_id, name, pid, outcome, _, _ in failures][::-1]

    def _sample(self) -> None:
        """Once a second: tasks ended so far, and each worker's CPU and RSS."""
        while not self._stopping.wait(SAMPLE_SECONDS):
            now = time.time()
            snapshot = self.runtime.snapshot()
            tasks = snapshot["tasks"]
            self._history.append(
                (now, sum(tasks[k] for k in ("finished", "failed", "cancelled", "crashed"))))
            pids = [worker["pid"] for worker in snapshot["workers"] if worker["pid"] > 0]
            self._usage = {pid: self._cpu_and_rss(pid, now) for pid in pids}
            self._cpu_seconds = {pid: self._cpu_seconds[pid] for pid in pids
                                 if pid in self._cpu_seconds}

    def _cpu_and_rss(self, pid: int, now: float) -> tuple[float, int]:
        """CPU percent since the last sample, and RSS, from /proc."""
        fields = _proc_stat(pid)
        if fields is None:
            return 0.0, 0
        cpu_seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        last = self._cpu_seconds.get(pid)
        self._cpu_seconds[pid] = (now, cpu_seconds)
        if last is None or now <= last[0]:
            return 0.0, rss
        return 100 * (cpu_seconds - last[1]) / (now - last[0]), rss


def _shown(resource: str) -> bool:
    """Whether the page lists a resource: CPUs, GPUs and declared ones,
    not the node's bookkeeping (memory, its own node and GPU model)."""
    return (resource not in ("memory", "object_store_memory")
            and not resource.startswith(("node:", "accelerator_type:")))


def _error_text(payload: bytes, too_large: bool) -> str:
    """An error's type and message, on one line."""
    if too_large:
        return "(the error is too large to show here; get() the task's ref)"
    if not payload:
        return "(not kept: nothing referred to the task's result when it ended)"
    try:
        error = error_of(payload)
    except Exception as exc:  # e.g. an exception class the driver cannot import
        return f"(the error could not be read here: {type(exc).__name__}: {exc})"
    cause = getattr(error, "cause", None)
    shown = cause if isinstance(cause, BaseException) else error
    text = f"{type(shown).__name__}: {shown}".splitlines()[0]
    return text[:ERROR_TEXT_MAX]


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _rss(pid: int) -> int:
    fields = _proc_stat(pid)
    return 0 if fields is None else int(fields[21]) * os.sysconf("SC_PAGE_SIZE")


def _timeline_rows(workers: list[dict[str, Any]], actors: list[dict[str, Any]],
                   timeline: list[dict[str, Any]]) -> list[str]:
    """The strip's rows: a row per live worker and actor process, and per
    process that ran something shown though it is gone; workers first,
    each group by pid."""
    rows = {row_of("", w["pid"], 0): (False, w["pid"])
            for w in workers if w["pid"] > 0 and w["state"] != "actor"}
    rows.update({a["row"]: (True, a["pid"]) for a in actors
                 if a["pid"] > 0 and a["state"] in ("alive", "restarting")})
    rows.update({entry["row"]: (entry["row"].startswith("actor "), entry["pid"])
                 for entry in timeline if entry["pid"] > 0})
    return sorted(rows, key=rows.__getitem__)


def _rates(history: list[tuple[float, int]], now: float) -> list[list[float]]:
    """[seconds ago, tasks ended per second] between successive looks."""
    return [[round(now - t1, 1), max(0, n1 - n0) / max(t1 - t0, 1e-3)]
            for (t0, n0), (t1, n1) in zip(history, history[1:])]


class _Server(ThreadingHTTPServer):
    """The listen backlog holds a burst of requests: with socketserver's
    default of 5, the rest of a burst waited for the kernel's 1 s SYN retry."""

    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request (a closed tab, a reset) is
        not an error worth a traceback on the driver's stderr."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _bind(port: int | None, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """The requested port, or an error; by default Ray's port, or a free one
    if that is taken (and a warning says so: visible without any logging
    set up)."""
    if port is not None:
        try:
            return _Server(("127.0.0.1", port), handler)
        except OSError as exc:
            raise OSError(exc.errno, f"dashboard_port={port} is not available ({exc.strerror});"
                          " pass another port, or none to let fastray pick one") from None
    try:
        return _Server(("127.0.0.1", DEFAULT_PORT), handler)
    except OSError:
        server = _Server(("127.0.0.1", 0), handler)
        logger.warning("port %d is in use; the dashboard is on port %d instead", DEFAULT_PORT,
                       server.server_address[1])
        return server


def _handler(dashboard: Dashboard) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = CONNECTION_TIMEOUT_S

        def do_GET(self) -> None:
            url = urlparse(self.path)
            token = parse_qs(url.query).get("token", [""])[0]
            # Compared as bytes: compare_digest refuses non-ASCII str.
            if not secrets.compare_digest(token.encode(), dashboard.token.encode()):
                self._send(403, "text/plain", b"forbidden: the dashboard URL carries a token")
            elif url.path == "/":
                self._send(200, "text/html; charset=utf-8", PAGE.read_bytes())
            elif url.path == "/api/state":
                self._send(200, "application/json", json.dumps(dashboard.state()).encode())
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            """Requests are not logged."""

    return Handler
