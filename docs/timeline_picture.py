"""Draws docs/timeline.svg, the picture of a fastray.timeline() trace in the
README: ``python docs/timeline_picture.py``.  It runs a small mixed workload
(a tree reduction, a burst of quick tasks, a failing task), then draws one
row per worker and one bar per task, as a trace viewer (Perfetto,
chrome://tracing) shows the same file."""
from __future__ import annotations

import time
from pathlib import Path

import fastray

COLOURS = {"finished": "#4c8bf5", "failed": "#e8453c", "cancelled": "#f6b400",
           "crashed": "#9c27b0"}


def workload() -> None:
    @fastray.remote
    def add(x, y):
        time.sleep(0.05)
        return x + y

    @fastray.remote
    def quick(i):
        return i

    @fastray.remote(max_retries=0)
    def fails():
        time.sleep(0.02)
        raise ValueError("shown in red")

    values = list(range(8))
    while len(values) > 1:
        values = [add.remote(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    fastray.get(values[0])
    fastray.get([quick.remote(i) for i in range(200)])
    try:
        fastray.get(fails.remote())
    except ValueError:
        pass


def draw(events: list[dict], path: Path) -> None:
    rows = sorted({e["tid"] for e in events})
    start = min(e["ts"] for e in events)
    end = max(e["ts"] + e["dur"] for e in events)
    width, left, row_height = 900, 110, 34
    scale = (width - left - 10) / max(end - start, 1)
    height = 40 + row_height * len(rows) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             '<text x="10" y="22" font-size="14">fastray.timeline(): one row per worker, '
             'one bar per task</text>']
    for index, row in enumerate(rows):
        y = 40 + index * row_height
        parts.append(f'<text x="10" y="{y + 20}">{row}</text>')
        parts.append(f'<line x1="{left}" y1="{y + row_height - 2}" x2="{width - 10}" '
                     f'y2="{y + row_height - 2}" stroke="#ddd"/>')
    for event in events:
        y = 40 + rows.index(event["tid"]) * row_height + 4
        x = left + (event["ts"] - start) * scale
        bar = max(event["dur"] * scale, 1)
        colour = COLOURS.get(event["args"]["state"], "#888")
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{bar:.1f}" height="{row_height - 10}" '
                     f'fill="{colour}"><title>{event["name"]} {event["args"]["state"]} '
                     f'{event["dur"]:.0f} µs</title></rect>')
        if bar > 30:
            parts.append(f'<text x="{x + 3:.1f}" y="{y + 16}" fill="white">{event["name"]}</text>')
    axis = 40 + row_height * len(rows) + 18
    parts.append(f'<text x="{left}" y="{axis}">0 ms</text>')
    parts.append(f'<text x="{width - 70}" y="{axis}">{(end - start) / 1000:.0f} ms</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts))


def main() -> None:
    fastray.init(num_cpus=2)
    workload()
    events = fastray.timeline()
    fastray.shutdown()
    draw(events, Path(__file__).with_name("timeline.svg"))


if __name__ == "__main__":
    main()
