"""``emoshift synth``: generate the synthetic emotional-speech corpus (not real speech).

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="emoshift")
    >>> _ = register(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["synth", "/tmp/synthetic", "--preset", "tiny"])
    >>> args.preset, args.seed
    ('tiny', 0)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emoshift.cli._parsers import command_parser
from emoshift.data.synthetic import DOMAINS, PRESETS, TABLE_NAME, generate_corpus

HELP = "generate the synthetic emotional-speech corpus"
DESCRIPTION = (
    "Generate the embedded synthetic corpus: a source-filter voice whose "
    "prosody follows the emotion, recorded in several domains (speakers, channel, "
    "elicitation style). Writes WAV files under OUT_DIR/wav and the corpus table "
    f"OUT_DIR/{TABLE_NAME}; a folder already holding the same corpus is reused. "
    "Every file is synthetic, not real speech."
)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``synth`` sub-command to ``subparsers``."""
    parser = command_parser(subparsers, "synth", HELP, DESCRIPTION, handler)
    parser.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="folder to write into")
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed; the same seed gives identical files"
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="demo",
        help="corpus size: demo (2 domains x 8 speakers x 4 emotions x 12), tiny (48 files), "
        "multi (the demo size over all three domains); default demo",
    )
    parser.add_argument(
        "--domains",
        nargs="+",
        choices=sorted(DOMAINS),
        help="domains to generate (overrides the preset's)",
    )
    parser.add_argument(
        "--speakers",
        type=int,
        help="speakers per domain, alternately female and male (overrides the preset's)",
    )
    parser.add_argument(
        "--utterances",
        type=int,
        help="utterances per speaker and emotion (overrides the preset's)",
    )
    parser.add_argument(
        "--emotions",
        nargs="+",
        help="emotions to express (default anger happiness sadness neutral)",
    )
    parser.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    return parser


def handler(args: argparse.Namespace) -> int:
    """Generate the corpus the arguments describe and print where its table is."""
    options = dict(PRESETS[args.preset])
    if args.domains:
        options["domains"] = tuple(args.domains)
    if args.speakers is not None:
        options["speakers_per_domain"] = args.speakers
    if args.utterances is not None:
        options["utterances_per_emotion"] = args.utterances
    if args.emotions:
        options["emotions"] = tuple(args.emotions)
    table = generate_corpus(
        args.out_dir,
        seed=args.seed,
        progress=False if args.no_progress else None,
        **options,
    )
    counts = ", ".join(
        f"{name} {n}" for name, n in table["domain"].value_counts().sort_index().items()
    )
    print(
        f"synthetic corpus: {len(table)} utterances ({counts}), "
        f"{table['speaker'].nunique()} speakers, {table['duration'].sum() / 60:.1f} min"
    )
    print(f"corpus table: {Path(args.out_dir).resolve() / TABLE_NAME}")
    return 0
