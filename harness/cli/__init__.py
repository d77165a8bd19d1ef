"""Command line: `harness list | validate | merge | diff | check-backend | mutants`.

One module per subcommand, each with ``configure(subparsers)`` and ``run(args) -> exit code``;
the options they share are defined once in ``options``. Exit status: 0 nothing unexpected,
1 unexpected cells (or a regression, a lacking backend, a surviving mutant), 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from harness.__about__ import __version__
from harness.cli import check_backend, diff, listing, merge, mutants, validate
from harness.errors import UsageError
from harness.interrupt import Interrupted, SignalGuard

SUBCOMMANDS = (listing, validate, merge, diff, check_backend, mutants)


EPILOG = """examples:
  python -m harness list --family softmax
  python -m harness validate --cases 'softmax*' --backends inhouse,torch,fd
  python -m harness validate --case-module mycases.py --backend-module engine.py
  python -m harness diff reports/baseline/summary.csv reports/summary.csv
  python -m harness check-backend --backend-module engine.py

exit status: 0 nothing unexpected, 1 unexpected cells (or a regression, a lacking backend, a
surviving mutant), 2 usage error (one sentence on stderr).

Each subcommand has its own --help."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description=__doc__.split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in SUBCOMMANDS:
        command.configure(sub)
    return parser


#: torch's intra-op threads in a command's process unless HARNESS_THREADS says otherwise: the
#: registry's problems are small, and a second thread costs more in synchronisation than it
#: saves (half of torch's seconds on the default run, on two cores). A library caller's process
#: (harness.check, the pytest plugin) is left as it is.
DEFAULT_THREADS = "1"


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HARNESS_THREADS", DEFAULT_THREADS)
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with SignalGuard():  # SIGINT/SIGTERM become Interrupted, with the finished work kept
            code = int(args.func(args))
        sys.stdout.flush()  # inside the try: a closed pipe is reported below, not at exit
        return code
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"{e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `harness list | head`: the reader left; nothing more to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
