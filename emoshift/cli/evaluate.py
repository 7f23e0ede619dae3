"""``emoshift evaluate MODEL TABLES... --out DIR``: score a saved model on labelled audio.

Predict every file of labelled corpus tables (.csv or .parquet with a 'file' column and the
labels, as 'emoshift corpus export' writes them), or of corpus folders read by a loader
(--format NAME), and compare with the reference labels, read as the model was trained
(mapped into its label space, or its regression dimensions). Prints the metrics (UAR, WA,
F1; or CCC, PCC, RMSE), the confusion matrix and each class's recall, and writes them with
the per-file predictions (file, true label, prediction, class probabilities) as CSV files
in --out.

Example:
    >>> from emoshift.cli._parsers import parse
    >>> args = parse("evaluate", "model", "emodb.parquet", "--out", "scores")
    >>> args.inputs, args.format, args.domain
    (['emodb.parquet'], None, None)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emoshift.cli._parsers import command_parser, described
from emoshift.cli.bundle_options import add_model_on_audio, extraction_options
from emoshift.cli.output import check_writable

HELP = "score a saved model on labelled audio (corpus tables or folders)"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command to the ``emoshift`` parser."""
    parser = command_parser(subparsers, "evaluate", HELP, described(__doc__), handle)
    add_model_on_audio(parser, "inputs", "labelled corpus tables (or folders with --format)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    parser.add_argument(
        "--format", default=None, help="read the inputs as corpus folders with this loader"
    )
    parser.add_argument(
        "--domain",
        default=None,
        help="whose normalisation statistics the audio gets (default: the model's target "
        "domain; see 'emoshift adapt' for a new one)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=256, help="files per network batch (default: 256)"
    )


def handle(args: argparse.Namespace) -> int:
    from emoshift.bundle import load  # noqa: PLC0415 (fast --help)
    from emoshift.bundle.evaluate import evaluate_model  # noqa: PLC0415

    if args.batch_size < 1:
        raise ValueError(f"--batch-size {args.batch_size} must be at least 1")
    check_writable(args.out / "predictions.csv", "--out")
    model = load(args.model, device=args.device, ssl_model=args.ssl_model)
    result = evaluate_model(
        model,
        args.inputs,
        corpus_format=args.format,
        domain=args.domain,
        batch_size=args.batch_size,
        **extraction_options(args),
    )
    print(result.summary())
    for path in result.write(args.out):
        print(f"written: {path}")
    return 0
