"""`lantern serve | explain | attack | compress | shapes ...`: the product, as commands.

One module per command group registers its parsers (`register(commands)`) with the function
that runs it; the options they share are defined once in `_options.py`. Bad input ends with one
line on stderr and exit code 2; never a traceback (unless --debug).
"""

import argparse
import os
import sys
from collections.abc import Sequence

import app
from app.cli import attack, audit, catalog, compress, explain, serve, shapes, trust
from app.errors import LanternError

__all__ = ["main"]

_BAD_INPUT = 2
_INTERNAL = 1
_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports
_GROUPS = (serve, catalog, explain, attack, trust, shapes, compress, audit)  # `--help` order


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lantern",
        description="See what an image classifier looks at, and how it can be fooled.",
    )
    parser.add_argument("--version", action="version", version=f"lantern {app.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "any_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        args.run(args)
    except LanternError as error:
        if args.debug:
            raise
        print(f"lantern: error: {error}", file=sys.stderr)
        return _BAD_INPUT
    except KeyboardInterrupt:
        print("lantern: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader closed stdout (`lantern ... | head`): stop quietly, as a shell tool would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _BROKEN_PIPE
    except Exception as error:  # a bug, not bad input: one line, and --debug for the traceback
        if args.debug:
            raise
        print(
            f"lantern: internal error: {type(error).__name__}: {error} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return _INTERNAL
    return 0
