"""``emoshift predict MODEL INPUTS... --out predictions.csv``: a saved model on new audio.

Predict the emotion of every audio file named: files, folders (searched recursively), text
lists (one path per line) or corpus tables (.csv, .parquet with a 'file' column). Writes one
row per file; a file that cannot be read keeps its row with the reason in the 'error'
column, and the others go on. The table replaces an existing --out only with --overwrite,
and is never written into a model bundle or over an input.

Example:
    >>> from emoshift.cli._parsers import parse
    >>> args = parse("predict", "model", "a.wav", "clips/", "--out", "p.csv")
    >>> args.inputs, args.jobs, args.batch_size
    (['a.wav', 'clips/'], None, 256)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emoshift.cli._parsers import command_parser, described
from emoshift.cli.bundle_options import (
    add_model_on_audio,
    extraction_options,
)
from emoshift.cli.output import check_writable

HELP = "run a saved model on new audio files"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``predict`` sub-command to the ``emoshift`` parser."""
    parser = command_parser(subparsers, "predict", HELP, described(__doc__), handle)
    parser.add_argument(
        "--out", type=Path, required=True, help="predictions table (.csv, or .parquet)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.add_argument(
        "--domain",
        default=None,
        help="whose normalisation statistics the audio gets (default: the model's target "
        "domain; see 'emoshift adapt' for a new one)",
    )
    add_model_on_audio(parser, "inputs", "audio files, folders, lists or tables")
    parser.add_argument(
        "--batch-size", type=int, default=256, help="files per network batch (default: 256)"
    )
    parser.add_argument(
        "--allow-version-change",
        action="store_true",
        help="accept an installed feature extractor (e.g. another openSMILE version) "
        "that gives the same feature columns, or another scikit-learn version, than the "
        "ones the model was saved with",
    )


def handle(args: argparse.Namespace) -> int:
    from emoshift.bundle import load  # noqa: PLC0415 (fast --help)
    from emoshift.bundle.predict import check_table_out, predict_inputs  # noqa: PLC0415

    if args.batch_size < 1:
        raise ValueError(f"--batch-size {args.batch_size} must be at least 1")
    out = check_table_out(args.out, [args.model, *args.inputs], overwrite=args.overwrite)
    check_writable(out, "--out")
    model = load(
        args.model,
        device=args.device,
        strict=not args.allow_version_change,
        ssl_model=args.ssl_model,
    )
    run = predict_inputs(
        model,
        args.inputs,
        out=out,
        overwrite=args.overwrite,
        domain=args.domain,
        batch_size=args.batch_size,
        **extraction_options(args),
    )
    print(run.summary())
    print(f"predictions: {out}")
    return 0
