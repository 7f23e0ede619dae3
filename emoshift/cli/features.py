"""``emoshift features``: extract features for every file of a corpus table.

Functionals are written as Parquet (or CSV for a ``.csv`` output): one row per kept
utterance, a ``file`` column, then one column per feature. Frame-level features
(``--set logmel``) are written as ``.npz`` with ``files`` (the paths), ``lengths``
(frames per file) and ``frames`` (all frames concatenated, ``sum(lengths) x 41``).

Example:
    >>> from emoshift.cli._parsers import parse
    >>> args = parse("features", "table.parquet", "--set", "logmel", "--out", "x.npz")
    >>> args.feature_set, args.jobs, args.on_error
    ('logmel', None, 'skip')
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from emoshift.cli._parsers import command_parser
from emoshift.cli.bundle_options import add_extraction_options, extraction_options
from emoshift.cli.output import check_writable
from emoshift.data.table import CorpusTableError, read_table
from emoshift.features.extract import (
    EXTRACTOR_NAMES,
    FeatureResult,
    SkippedFilesWarning,
    extract_features,
    get_extractor,
)
from emoshift.features.segments import row_names

HELP = "extract openSMILE functionals or log-Mel frames for a corpus table"
DESCRIPTION = (
    "Extract features for every file of a corpus table, in parallel, "
    "through the content-addressed feature cache (a second run extracts nothing)."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``features`` sub-command to the ``emoshift`` parser."""
    parser = command_parser(subparsers, "features", HELP, DESCRIPTION, handle)
    parser.add_argument("table", type=Path, help="corpus table (.parquet or .csv)")
    parser.add_argument(
        "--set",
        dest="feature_set",
        default="egemaps",
        metavar="NAME",
        help=f"feature set: one of {', '.join(EXTRACTOR_NAMES)}, or an openSMILE .conf "
        "path (default: egemaps)",
    )
    ssl = parser.add_argument_group("self-supervised features (--set ssl)")
    ssl.add_argument("--model", default=None, help="checkpoint folder (or a cached hub name)")
    ssl.add_argument(
        "--layers", default=None, help="hidden states to keep: all, an index (-1), or 6,12"
    )
    ssl.add_argument("--combine", choices=("mean", "concat"), default=None)
    ssl.add_argument("--pooling", choices=("mean", "mean_std", "attentive", "none"), default=None)
    ssl.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    ssl.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="windows run together (default: 1 on a CPU, 8 on a GPU)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output file: .parquet or .csv for functionals, .npz for logmel",
    )
    add_extraction_options(parser)
    parser.add_argument(
        "--on-error",
        choices=("skip", "raise"),
        default="skip",
        help="skip unusable audio files and list them (default), or stop at the first",
    )


def _write(result: FeatureResult, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(result.features, list):
        lengths = np.array([len(frames) for frames in result.features], dtype=np.int64)
        width = len(result.feature_names)
        frames = (
            np.concatenate(result.features)
            if result.features
            else np.empty((0, width), dtype=np.float32)
        )
        np.savez(out, files=np.array(result.files, dtype=str), lengths=lengths, frames=frames)
        return
    frame = pd.concat(
        [pd.DataFrame({"file": result.files}, index=result.index), result.features], axis=1
    ).reset_index(drop=True)
    if out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)


def read_feature_table(path: Path) -> pd.DataFrame:
    """The corpus table to extract from: rows with a file each, every file once.

    Duplicate rows for the same file (and segment) are dropped (with a warning on stderr
    counting them), so each file or segment is extracted and written once.
    """
    table = read_table(path)
    if table.empty:
        raise CorpusTableError(f"corpus table {path} has no rows; nothing to extract")
    missing = table["file"].isna()
    if missing.any():
        rows = [int(i) + 2 for i in table.index[missing][:10]] if path.suffix == ".csv" else []
        where = f" (lines {rows})" if rows else ""
        raise CorpusTableError(
            f"corpus table {path}: {int(missing.sum())} row(s) have no 'file' path{where}; "
            "fill or drop them"
        )
    duplicated = pd.Series(row_names(table), index=table.index).duplicated()
    if duplicated.any():
        print(
            f"warning: {path}: dropped {int(duplicated.sum())} duplicate row(s) of files "
            "(or segments) listed before; each is extracted and written once",
            file=sys.stderr,
        )
        table = table[~duplicated]
    return table


def ssl_options(args: argparse.Namespace) -> dict[str, object]:
    """The ``--model/--layers/--combine/--pooling/--device/--batch-size`` options given,
    as extractor options.

    Example:
        >>> ssl_options(argparse.Namespace(model="m", layers="6,12", combine=None, pooling=None))
        {'model': 'm', 'layers': [6, 12]}
    """
    given = {
        name: getattr(args, name)
        for name in ("model", "layers", "combine", "pooling", "device", "batch_size")
        if getattr(args, name, None) is not None
    }
    layers = given.get("layers")
    if isinstance(layers, str) and layers != "all":
        try:
            values = [int(part) for part in layers.split(",")]
        except ValueError:
            raise ValueError(
                f"--layers {layers!r}: give all, one index (-1) or a comma list (6,12)"
            ) from None
        given["layers"] = values[0] if len(values) == 1 else values
    return given


def handle(args: argparse.Namespace) -> int:
    """Run the extraction, write the output, print a summary; return the exit code."""
    options = ssl_options(args)
    if options and str(args.feature_set).lower() != "ssl":
        raise ValueError(f"--{next(iter(options))} applies to --set ssl only")
    extractor = get_extractor(args.feature_set, **options)
    expected = ".npz" if extractor.frame_level else ".parquet or .csv"
    if args.out.suffix not in expected.split(" or "):
        raise ValueError(f"--out for {extractor.name} must end in {expected}, got {args.out}")
    check_writable(args.out, "--out")
    table = read_feature_table(args.table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFilesWarning)  # the summary lists them
        result = extract_features(
            table,
            extractor,
            on_error=args.on_error,
            **extraction_options(args),
        )
    print(result.summary())
    if not result.files:
        print(f"no features written: every file of {args.table} was skipped", file=sys.stderr)
        return 1
    _write(result, args.out)
    print(f"wrote {args.out}")
    return 0
