"""The steps every ``emoshift`` sub-command module shares: its parser, and examples.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="emoshift")
    >>> sub = command_parser(parser.add_subparsers(), "hello", "greet", "Greet.", print)
    >>> parser.parse_args(["hello"]).func is print
    True
    >>> parse("run", "x.yaml", "--dry-run").dry_run
    True
    >>> from emoshift.cli import run
    >>> described(run.__doc__).startswith("Run every trial of an experiment YAML")
    True
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable


def command_parser(
    subparsers: argparse._SubParsersAction,
    name: str,
    help: str,
    description: str,
    handler: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """Add sub-command ``name`` with its one-line ``help`` and ``description``; parsing
    it sets ``func`` to ``handler``. Returns its parser, for the options."""
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.set_defaults(func=handler)
    return parser


def described(doc: str | None) -> str:
    """A module docstring's paragraphs after its summary line and before its ``Example:``
    section: the ``--help`` description of the command the module adds, written once."""
    body = (doc or "").partition("\n\n")[2]
    return body.partition("\nExample:")[0].strip()


def add_config(parser: argparse.ArgumentParser) -> None:
    """The positional ``config`` of the commands that read an experiment YAML."""
    parser.add_argument("config", help="experiment YAML file")


def parse(*argv: str) -> argparse.Namespace:
    """The arguments of ``emoshift ARGV...`` as sub-command ``argv[0]``'s module
    (``emoshift.cli.<argv[0]>``) alone parses them: the examples' shorthand."""
    parser = argparse.ArgumentParser(prog="emoshift")
    importlib.import_module(f"emoshift.cli.{argv[0]}").register(parser.add_subparsers())
    return parser.parse_args(argv)
