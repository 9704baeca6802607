"""The command line's tools (``python -m fastray bench|tour|dashboard``),
apart from the library.  Workers import bench_tasks from here to run the
benchmarks' tasks, so this file imports nothing."""
