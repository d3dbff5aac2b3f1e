"""`lantern serve | explain | attack | compress | shapes ...`: the product, as commands.

One module per command group registers its parsers (`register(commands)`) with the function
that runs it; the options they share are defined once in `_options.py`. Only the group of the
command being run is imported (the others are named from `_commands.COMMANDS`), so `lantern
--help` does not import torch. Bad input ends with one
line on stderr and exit code 2; never a traceback (unless --debug).
"""

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

import app
from app.cli._commands import COMMANDS
from app.errors import LanternError

__all__ = ["main"]

_BAD_INPUT = 2
_INTERNAL = 1
_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named in argv (its first word that is not an option), if it is one."""
    word = next((word for word in argv if not word.startswith("-")), None)
    return word if word in COMMANDS else None


def _build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command; only `command`'s group registers its options (the rest
    are names and help, enough for `lantern --help` and usage errors)."""
    parser = argparse.ArgumentParser(
        prog="lantern",
        description="See what an image classifier looks at, and how it can be fooled.",
    )
    parser.add_argument("--version", action="version", version=f"lantern {app.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    group = COMMANDS[command][0] if command is not None else None
    registered = False
    for name, (module, help) in COMMANDS.items():
        if module != group:
            commands.add_parser(name, help=help)
        elif not registered:
            importlib.import_module(f"app.cli.{module}").register(commands)
            registered = True
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser(_command_of(argv))
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
