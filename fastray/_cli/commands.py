"""The command line, ``python -m fastray COMMAND`` (fastray/__main__.py runs it).

Each command is a subparser whose ``handler`` default takes the parsed arguments and
returns the exit status, so a new command is one ``add_parser`` call and one function.
"""

import argparse
import sys
from collections.abc import Sequence

from .bench import TABLES as BENCH_TABLES
from .tour import run_tour


def _tour(args: argparse.Namespace) -> int:
    run_tour()
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import main as run_bench
    run_bench(quick=args.quick, json_path=args.json, only=args.only, tables=tuple(args.tables),
              cpus=args.cpus, scaling=args.scaling)
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from .dashboard_demo import run_demo
    run_demo(args.seconds, args.port)
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fastray",
        description="fastray: a Ray-Core-compatible task executor for one machine.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    tour = commands.add_parser(
        "tour",
        help='run the Ray Core "remote tasks" tutorial on fastray',
        description='Run the Ray Core "remote tasks" tutorial on fastray, printing each '
        "cell's output and the speedups measured.",
    )
    tour.set_defaults(handler=_tour)
    bench = commands.add_parser(
        "bench",
        help="measure fastray next to Ray and the process pools",
        description="Run the same workloads on fastray, ProcessPoolExecutor, "
        "multiprocessing.Pool and, when installed, Ray, loky and dask, then Ray's own "
        "microbenchmark (its task and object workloads, then its actor workloads and what "
        "an actor costs) on fastray and Ray; print medians and ratios.",
    )
    bench.add_argument("--quick", action="store_true",
                       help="smaller workloads and fewer rounds (a smoke run)")
    bench.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    bench.add_argument("--only", nargs="+", metavar="NAME",
                       help='compare fastray with only these executors (e.g. Ray "loky")')
    bench.add_argument("--tables", nargs="+", choices=BENCH_TABLES, default=list(BENCH_TABLES),
                       metavar="TABLE",
                       help=f"measure only these tables (of {', '.join(BENCH_TABLES)})")
    bench.add_argument("--cpus", type=_positive, metavar="N",
                       help="workers for each executor (default: every core)")
    bench.add_argument("--scaling", action="store_true",
                       help="instead of the tables, measure fastray and the process pools with "
                       "1, 2, 4, ... workers up to --cpus: no-op tasks async and sync, "
                       "CPU-bound efficiency, start-up")
    bench.set_defaults(handler=_bench)
    dashboard = commands.add_parser(
        "dashboard",
        help="start a runtime with the dashboard and a small mixed workload",
        description="Start fastray with its dashboard, print the URL, and keep a small mixed "
        "workload (quick tasks, slow tasks, arrays, a failing task) running until Ctrl-C.",
    )
    dashboard.add_argument("--demo", action="store_true", required=True,
                           help="run the demo workload (the only mode for now)")
    dashboard.add_argument("--seconds", type=float, default=None,
                           help="stop after this many seconds (default: at Ctrl-C)")
    dashboard.add_argument("--port", type=int, default=None, help="the dashboard's port")
    dashboard.set_defaults(handler=_dashboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in ``argv`` (default: the process arguments); return its exit status.

    Without a command there is nothing to do: print the help and return 2, argparse's
    status for a usage error.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return args.handler(args)
