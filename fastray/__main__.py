"""Command line: ``python -m fastray COMMAND``.

Each command is a subparser whose ``handler`` default takes the parsed arguments and
returns the exit status, so a new command is one ``add_parser`` call and one function.
"""

import argparse
import sys
from collections.abc import Sequence

from fastray.tour import run_tour


def _tour(args: argparse.Namespace) -> int:
    run_tour()
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
