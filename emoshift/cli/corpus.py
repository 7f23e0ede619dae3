"""``emoshift corpus``: look at a corpus as its owner ships it, and export its table.

``emoshift corpus info PATH --format NAME`` prints the number of utterances, speakers,
total duration, sample rates, label counts per speaker and anything wrong (unrecognised
names, unreadable files, files without labels, labels without files, and the audio that
feature extraction will skip: silent, NaN, too short, truncated); it exits with 1
when something is wrong, 0 otherwise. ``emoshift corpus export PATH --format NAME --out
table.parquet`` (or ``.csv``) writes the corpus table. Loader options go through
``--option KEY=VALUE`` (the value is read as YAML: ``--option include_song=false``,
``--option 'columns={file: path, emotion: label}'``).

Example:
    >>> from emoshift.cli import build_parser
    >>> args = build_parser().parse_args(
    ...     ["corpus", "info", "corpora/emodb", "--format", "emodb", "--option", "duration=no"])
    >>> args.format, loader_options(args.option)
    ('emodb', {'duration': False})
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd
import yaml

from emoshift.cli.output import check_writable
from emoshift.data.inspect import corpus_info, format_corpus_info
from emoshift.data.loaders import LOADERS, LoadReport, load_corpus
from emoshift.data.loaders.base import CorpusWarning
from emoshift.data.table import write_table
from emoshift.safe_yaml import load_yaml

TABLE_SUFFIXES = (".parquet", ".csv")


def loader_options(pairs: list[str] | None) -> dict[str, object]:
    """``KEY=VALUE`` strings as loader keyword options, values parsed as YAML."""
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--option {pair!r} is not KEY=VALUE")
        try:
            options[key.strip().replace("-", "_")] = load_yaml(value)
        except yaml.YAMLError as error:
            raise ValueError(f"--option {pair!r}: the value is not plain YAML: {error}") from None
    return options


def _load(args: argparse.Namespace, report: LoadReport) -> pd.DataFrame:
    """The corpus table; problems go to ``report`` rather than to warnings."""
    options = loader_options(args.option)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorpusWarning)
        try:
            return load_corpus(args.path, args.format, strict=args.strict, report=report, **options)
        except NotADirectoryError as error:
            raise ValueError(str(error)) from error


def info(args: argparse.Namespace) -> int:
    """Print the corpus summary; 1 if problems were found, else 0."""
    report = LoadReport()
    table = _load(args, report)
    summary = corpus_info(table, report, check_audio=not args.no_audio_check)
    print(format_corpus_info(summary, max_speakers=args.max_speakers))
    return 0 if summary.ok else 1


def export(args: argparse.Namespace) -> int:
    """Write the corpus table to ``--out`` (Parquet or CSV by suffix)."""
    out = Path(args.out)
    if out.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(f"--out {out} must end in {' or '.join(TABLE_SUFFIXES)}")
    check_writable(out, "--out")
    report = LoadReport()
    table = _load(args, report)
    write_table(table, out)
    problems = sum(len(messages) for messages in report.problems().values())
    note = f" ({problems} problem(s): run 'emoshift corpus info' to list them)" if problems else ""
    print(f"wrote {len(table)} utterances of {args.format} to {out}{note}")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="the corpus directory (for --format csv: the CSV/TSV file)")
    parser.add_argument(
        "--format",
        required=True,
        metavar="NAME",
        help=f"corpus format, one of: {', '.join(LOADERS)}",
    )
    parser.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="loader option (repeatable), e.g. include_song=false, labels=path/to/labels.csv",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first file or label outside the corpus's scheme",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``corpus info`` and ``corpus export`` to the ``emoshift`` command line."""
    parser = subparsers.add_parser(
        "corpus",
        help="inspect a corpus directory or export its table",
        description="Inspect a corpus as its owner ships it, or export its corpus table.",
    )
    commands = parser.add_subparsers(dest="corpus_command", metavar="COMMAND", required=True)
    info_parser = commands.add_parser(
        "info", help="utterances, speakers, duration, labels per speaker, problems"
    )
    _common(info_parser)
    info_parser.add_argument(
        "--max-speakers", type=int, default=50, help="speakers listed in the table (default 50)"
    )
    info_parser.add_argument(
        "--no-audio-check",
        action="store_true",
        help="skip reading every file's samples (then silent, NaN, too short or truncated "
        "audio, which feature extraction skips, is not reported)",
    )
    info_parser.set_defaults(func=info)
    export_parser = commands.add_parser("export", help="write the corpus table (Parquet or CSV)")
    _common(export_parser)
    export_parser.add_argument("--out", required=True, help="table.parquet or table.csv")
    export_parser.set_defaults(func=export)
