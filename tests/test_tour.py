"""The tour is the tutorial, and the tutorial's claims hold on fastray.

The seed markdown in ../shared is the specification: the tour's cells must be its code
cells with only the documented changes, and running the tour must print the outputs and
show the speedup the tutorial describes.  The seed lives beside the checkout, not in it:
without it the comparison skips, except under CI, which must have it.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastray
from fastray._cli import tour

from helpers import requirement_missing

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "remote_tasks_tour.md"

# The only differences allowed between the seed's cells and tour.CELLS: cell -> (old, new).
CHANGES = {
    1: ("import ray", "import fastray as ray"),
    12: ("np.add(arr1, arr1)", "np.add(arr1, arr2)"),
    40: ("%%time\n\n", "%%time\n\nvalues = [i for i in range(1, 9)]\n"),
}

CELL_HEADER = re.compile(r"^In \[(\d+)\]:$", re.MULTILINE)


def _is_code(block: str) -> bool:
    """Whether a block that follows a cell's first block still belongs to its code.

    After a cell come its output and then markdown, each a blank-line-separated block.
    A block that does not parse is output or markdown; one that parses to nothing is a
    markdown heading (a comment to Python); one that is a lone expression is an output
    (a notebook displays a trailing expression only when it ends the cell's code).
    """
    try:
        body = ast.parse(block).body
    except SyntaxError:
        return False
    return bool(body) and not (len(body) == 1 and isinstance(body[0], ast.Expr))


def seed_cells(markdown: str) -> list[tuple[int, str]]:
    """The ``In [N]:`` code cells of the seed, each with its exact source text."""
    headers = list(CELL_HEADER.finditer(markdown))
    cells = []
    for header, following in zip(headers, headers[1:] + [None]):
        end_of_chunk = following.start() if following else len(markdown)
        lines = markdown[header.end() + 1 : end_of_chunk].splitlines()
        blocks = []  # (first line, line after the last) of each run of non-blank lines
        start = None
        for i, line in enumerate([*lines, ""]):
            if line.strip() and start is None:
                start = i
            elif not line.strip() and start is not None:
                blocks.append((start, i))
                start = None
        end = blocks[0][1]  # the first block is always code
        for first, after in blocks[1:]:
            if not _is_code("\n".join(lines[first:after])):
                break
            end = after
        cells.append((int(header.group(1)), "\n".join(lines[:end])))
    return cells


@pytest.mark.timeout(30)
def test_cells_are_the_seed_with_only_the_documented_changes() -> None:
    if not SEED.is_file():
        requirement_missing(f"{SEED} is absent: the tour is compared with the seed in "
                            f"../shared/seed/ beside the checkout")
    expected = []
    for number, source in seed_cells(SEED.read_text(encoding="utf-8")):
        if number in CHANGES:
            old, new = CHANGES[number]
            assert source.count(old) == 1, f"seed cell In [{number}] no longer has {old!r} once"
            source = source.replace(old, new)
        expected.append((number, source))

    assert [number for number, _ in tour.CELLS] == [number for number, _ in expected]
    for (number, source), (_, wanted) in zip(tour.CELLS, expected):
        assert source == wanted, f"In [{number}] differs from the seed"


def _fastray(*args: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``python -m fastray ARGS`` on the fastray under test, whatever ``cwd`` is."""
    paths = [str(Path(fastray.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    return subprocess.run(
        [sys.executable, "-m", "fastray", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def tour_output(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """The output of ``python -m fastray tour``, split by cell number.

    It runs from an empty directory to show the tour finds its data files by itself.
    """
    done = _fastray("tour", cwd=tmp_path_factory.mktemp("elsewhere"), timeout=120)
    assert done.returncode == 0, f"the tour failed:\n{done.stdout}\n{done.stderr}"
    parts = CELL_HEADER.split(done.stdout)
    return {int(number): text for number, text in zip(parts[1::2], parts[2::2])}


def _wall_time(cell_output: str) -> float:
    match = re.search(r"^Wall time: (\S+) s$", cell_output, re.MULTILINE)
    assert match, f"no wall time in:\n{cell_output}"
    return float(match.group(1))


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_tour_reads_sums_and_adds_the_two_arrays(tour_output: dict[int, str]) -> None:
    arr1, arr2 = (
        np.loadtxt(tour.WORKDIR / "data" / name, comments="#", delimiter=",").astype("int")
        for name in ("file_1.txt", "file_2.txt")
    )
    assert f"Result: add arr1 + arr2: \n {arr1 + arr2}" in tour_output[17]
    assert "Sum of arr1: 5173\nSum of arr2: 7719" in tour_output[19]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_tour_aggregations_sum_to_36_and_the_tree_is_faster(tour_output: dict[int, str]) -> None:
    assert "36" in tour_output[37].splitlines()
    assert "36" in tour_output[40].splitlines()
    assert _wall_time(tour_output[40]) < _wall_time(tour_output[37])


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_tour_nested_tasks(tour_output: dict[int, str]) -> None:
    assert len(re.findall(r"ObjectRef\(", tour_output[42])) == 4  # g returns its refs
    assert "[1, 1, 1, 1]" in tour_output[43].splitlines()  # h gets their values


@pytest.mark.timeout(60)
def test_no_command_prints_help_and_exits_2(tmp_path: Path) -> None:
    done = _fastray(cwd=tmp_path, timeout=30)
    assert done.returncode == 2
    assert "tour" in done.stderr


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_tour_prints_the_context_and_the_dashboard_url(tour_output: dict[int, str]) -> None:
    # The tutorial's init starts a dashboard; the tour turns fastray's on.
    assert re.search(r"dashboard_url='127\.0\.0\.1:\d+/\?token=[\w-]{20,}'", tour_output[5])
    assert re.search(r"^Dashboard url: http://127\.0\.0\.1:\d+/\?token=[\w-]{20,}$",
                     tour_output[6], re.MULTILINE)
