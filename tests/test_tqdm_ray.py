"""tqdm_ray (Ray's progress bars for tasks): bars made in tasks and in the
driver are drawn by the driver, one line per bar."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import pytest

from fastray.progress_board import BarBoard, render

pytestmark = pytest.mark.timeout(120)

SCRIPT = textwrap.dedent("""
    import fastray as ray
    from fastray.experimental.tqdm_ray import tqdm, safe_print

    ray.init(num_cpus=2)

    @ray.remote
    def f(name):
        for _ in tqdm(range(50), desc=name):
            pass
        return name

    assert ray.get([f.remote("task 1"), f.remote("task 2")]) == ["task 1", "task 2"]
    bar = tqdm(desc="by hand", total=4)
    bar.update(4)
    bar.close()
    safe_print("printed")
    ray.shutdown()
""")


def test_bars_of_tasks_are_drawn_by_the_driver_one_line_each():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=100, cwd=os.path.dirname(__file__))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    for desc, total in (("task 1", 50), ("task 2", 50), ("by hand", 4)):
        finished = [line for line in lines if line.startswith(f"{desc}: 100%")]
        assert len(finished) == 1, lines
        assert f"{total}/{total}" in finished[0]
    assert "printed" in lines


def test_a_terminal_gets_the_live_bars_as_one_block_redrawn_in_place():
    read_fd, write_fd = os.pipe()
    out = io.StringIO()
    out.isatty = lambda: True  # type: ignore[method-assign]
    board = BarBoard(read_fd, out)
    board.update({"uuid": "a", "pid": 1, "desc": "one", "total": 2, "x": 1})
    board.update({"uuid": "b", "pid": 1, "desc": "two", "total": 2, "x": 0})
    board.update({"uuid": "a", "pid": 1, "desc": "one", "total": 2, "x": 2, "closed": True})
    os.close(write_fd)
    board.close()
    text = out.getvalue()
    # The block of two is moved up over, then the finished bar stays above
    # the one still running.
    assert "\x1b[2A" in text
    tail = text.rsplit("\x1b[J", 1)[1]
    assert tail.index("one: 100%") < tail.index("two:   0%")


def test_a_bar_without_a_total_shows_its_count():
    assert render({"desc": "items", "x": 7, "unit": "it"}).startswith("items: 7 [")
