"""The ``emoshift`` command line: a thin layer over the Python API.

Each sub-command lives in its own module in this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a handler taking
the parsed arguments and returning an exit code.

Example:
    >>> from emoshift.cli import build_parser
    >>> "demo" in build_parser().format_help()
    True
"""

from __future__ import annotations

import argparse
import importlib
import sys

from emoshift import __version__
from emoshift.cli.output import os_error_message

SUBCOMMANDS = (
    "demo",
    "synth",
    "configs",
    "features",
    "corpus",
    "run",
    "report",
    "train",
    "predict",
    "evaluate",
    "adapt",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="emoshift",
        description="Speech emotion recognition across corpora: domain adaptation "
        "methods, baselines, protocols and reports.",
    )
    parser.add_argument("--version", action="version", version=f"emoshift {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"emoshift.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"emoshift.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as error:
        print(f"emoshift {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a path that cannot be written: name it, no traceback
        if error.filename is None:
            raise
        print(f"emoshift {args.command}: error: {os_error_message(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
