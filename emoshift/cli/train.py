"""``emoshift train CONFIG --method NAME --pair NAME --out model/``: a model that ships.

Fit one method of an experiment YAML on one of its source/target pairs, on all the data the
config's protocol allows (no held-out test set), and save the model (weights, normalisation,
labels, config) to a bundle folder that 'emoshift predict' runs on new audio. The config is
checked as 'emoshift run' checks it, except that its baseline need not be among its methods
(one model is trained; nothing is compared). Only the corpora the pair's queries select are
featurised. Target rows with an empty label are unlabelled target data.

Example:
    >>> from emoshift.cli._parsers import parse
    >>> args = parse("train", "x.yaml", "--method", "dann", "--out", "model")
    >>> args.method, args.pair, args.overwrite
    ('dann', None, False)
"""

from __future__ import annotations

import argparse

from emoshift.cli._parsers import add_config, command_parser, described
from emoshift.cli.bundle_options import add_bundle_out, check_bundle_out

HELP = "train one method of an experiment config and save it as a model bundle"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command to the ``emoshift`` parser."""
    parser = command_parser(subparsers, "train", HELP, described(__doc__), handle)
    add_config(parser)
    parser.add_argument("--method", required=True, help="a method of the config")
    parser.add_argument(
        "--pair", default=None, help="the pair's name or 'source -> target' (if several)"
    )
    add_bundle_out(parser, "bundle folder to write")


def handle(args: argparse.Namespace) -> int:
    from emoshift.bundle.training import train_model  # noqa: PLC0415 (fast --help)
    from emoshift.experiment.config import load_config  # noqa: PLC0415

    out = check_bundle_out(args)
    config = load_config(args.config, for_training=True)
    model = train_model(config, args.method, args.pair)
    folder = model.save(out, overwrite=args.overwrite)
    rows = model.training["rows"]
    print(
        f"trained {args.method} on {rows['source']} source and {rows['target']} target "
        f"row(s) ({rows['labelled_target']} labelled, {rows['unlabelled_target']} without a "
        f"label) in {model.training['fit_seconds']:.0f} s;"
        f" target domain {model.normalisation['target_domain']!r}"
    )
    print(f"model: {folder}")
    return 0
