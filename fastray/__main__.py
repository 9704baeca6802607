"""``python -m fastray COMMAND``: the command line, in fastray._cli."""
import sys

from fastray._cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
