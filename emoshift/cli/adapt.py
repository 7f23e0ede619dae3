"""``emoshift adapt MODEL AUDIO... --out NEW_MODEL``: a new domain's normalisation.

Compute the per-domain feature normalisation of a new domain from unlabelled recordings of
it (files, folders, lists or tables) and save a copy of the model that normalises new audio
with it by default; with --batch-norm, also the networks' batch-normalisation statistics.
The weights are not retrained (that needs the labelled source data: use 'emoshift train'
with the new domain as the target).

Example:
    >>> from emoshift.cli._parsers import parse
    >>> args = parse("adapt", "model", "calls/", "--out", "model-calls")
    >>> args.audio, args.domain, args.min_files
    (['calls/'], None, 10)
"""

from __future__ import annotations

import argparse

from emoshift.cli._parsers import command_parser, described
from emoshift.cli.bundle_options import (
    add_bundle_out,
    add_model_on_audio,
    check_bundle_out,
    extraction_options,
)

HELP = "give a saved model the normalisation of a new domain from unlabelled audio"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``adapt`` sub-command to the ``emoshift`` parser."""
    parser = command_parser(subparsers, "adapt", HELP, described(__doc__), handle)
    add_bundle_out(parser, "the adapted model's bundle folder")
    parser.add_argument(
        "--domain", default=None, help="name of the new domain (default: the first input's name)"
    )
    parser.add_argument(
        "--replace-domain",
        action="store_true",
        help="replace the statistics of a domain the model already holds (--domain)",
    )
    parser.add_argument(
        "--min-files", type=int, default=10, help="fewest usable files (default: 10)"
    )
    parser.add_argument(
        "--batch-norm",
        action="store_true",
        help="also recompute the networks' batch-normalisation statistics on the new "
        "domain (AdaBN; neural models on feature matrices; no weight changes)",
    )
    add_model_on_audio(parser, "audio", "unlabelled audio of the new domain")


def handle(args: argparse.Namespace) -> int:
    from emoshift.bundle import load  # noqa: PLC0415 (fast --help)
    from emoshift.bundle.adapt import adapt_model  # noqa: PLC0415

    out = check_bundle_out(args)
    model = load(args.model, device=args.device, ssl_model=args.ssl_model)
    adapted, report = adapt_model(
        model,
        args.audio,
        domain=args.domain,
        min_files=args.min_files,
        batch_norm=args.batch_norm,
        replace_domain=args.replace_domain,
        **extraction_options(args),
    )
    folder = adapted.save(out, overwrite=args.overwrite)
    print(
        f"domain {report['domain']!r}: {report['normalisation']} statistics from "
        f"{report['files']} file(s); networks: {report['networks']}"
    )
    for message in report["skipped"].values():
        print(f"  skipped {message}")
    print(f"model: {folder}")
    return 0
