"""``emoshift configs``: the example experiment configs that ship with emoshift.

``emoshift configs list`` names them with the first line of each; ``emoshift configs
copy NAME [DEST]`` writes one to DEST (default NAME.yaml here) to edit and run. Relative
paths in a config start at its own folder, so after a copy the command names each corpus
path that does not exist from DEST's folder: set those to your copies.

Example:
    >>> from emoshift.cli._parsers import parse
    >>> args = parse("configs", "copy", "synthetic_unsupervised", "exp.yaml")
    >>> args.action, args.name, args.dest
    ('copy', 'synthetic_unsupervised', 'exp.yaml')
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import yaml

from emoshift.cli._parsers import command_parser, described
from emoshift.configs import example_config, example_names

HELP = "list the example experiment configs, or copy one to edit"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(subparsers, "configs", HELP, described(__doc__), _run)
    parser.add_argument("action", choices=("list", "copy"), help="list them, or copy one")
    parser.add_argument("name", nargs="?", help="the config to copy (see: emoshift configs list)")
    parser.add_argument("dest", nargs="?", help="where to write it (default: NAME.yaml here)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing DEST")


def _summary(text: str) -> str:
    """The first comment line of a config: what it runs."""
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def missing_paths(text: str, folder: Path) -> list[str]:
    """The corpus paths of a config (``corpora.NAME.path``, not generated ``synthetic``
    ones, environment variables expanded) that do not exist when read from ``folder``."""
    missing = []
    for name, corpus in (yaml.safe_load(text).get("corpora") or {}).items():
        raw = str(corpus.get("path", ""))
        path = Path(os.path.expandvars(os.path.expanduser(raw)))
        path = path if path.is_absolute() else folder / path
        if corpus.get("loader") != "synthetic" and not path.exists():
            missing.append(f"corpora.{name}.path: {raw} ({path.resolve()} does not exist)")
    return missing


def _run(args: argparse.Namespace) -> int:
    if args.action == "list":
        for name in example_names():
            print(f"{name:<40} {_summary(example_config(name).read_text(encoding='utf-8'))}")
        return 0
    if not args.name:
        raise ValueError("configs copy needs the NAME of a config (see: emoshift configs list)")
    text = example_config(args.name).read_text(encoding="utf-8")
    dest = Path(args.dest or f"{args.name.removesuffix('.yaml')}.yaml")
    if dest.is_dir():
        dest = dest / f"{args.name.removesuffix('.yaml')}.yaml"
    if dest.exists() and not args.overwrite:
        raise ValueError(f"{dest} exists; choose another DEST or pass --overwrite")
    dest.write_text(text, encoding="utf-8")
    print(f"wrote {dest}")
    missing = missing_paths(text, dest.resolve().parent)
    if missing:
        print("set these to your copies of the corpora (relative paths start at its folder):")
        for line in missing:
            print(f"  {line}")
    return 0
