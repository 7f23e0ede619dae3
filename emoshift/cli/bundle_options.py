"""Options that the model-bundle commands (train, predict, adapt) and features share.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_extraction_options(parser); add_bundle_out(parser, "bundle folder")
    >>> args = parser.parse_args(["--out", "m", "--jobs", "2"])
    >>> args.jobs, args.cache_dir, args.overwrite
    (2, None, False)
    >>> extraction_options(args)
    {'cache_dir': None, 'n_jobs': 2}
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_extraction_options(parser: argparse.ArgumentParser) -> None:
    """``--cache-dir`` and ``--jobs`` of feature extraction."""
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="feature cache directory (default: $EMOSHIFT_CACHE or ~/.cache/emoshift)",
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="feature worker processes (default: one per CPU)"
    )


def extraction_options(args: argparse.Namespace) -> dict[str, object]:
    """The keyword arguments of feature extraction that :func:`add_extraction_options`
    options give (``cache_dir``, ``n_jobs``)."""
    return {"cache_dir": args.cache_dir, "n_jobs": args.jobs}


def add_model_on_audio(parser: argparse.ArgumentParser, audio: str, help: str) -> None:
    """What the commands that run a saved model on new audio take: the positional
    ``model`` (a bundle folder) and ``audio`` inputs (one or more files, folders, lists or
    tables), the extraction options (:func:`add_extraction_options`), ``--ssl-model``
    (where the checkpoint of a model on SSL features is on this machine) and ``--device``
    (where the networks and that checkpoint run)."""
    parser.add_argument("model", type=Path, help="model bundle folder (emoshift train)")
    parser.add_argument(audio, nargs="+", help=help)
    add_extraction_options(parser)
    parser.add_argument(
        "--ssl-model",
        type=Path,
        default=None,
        help="for a model on SSL features: its checkpoint folder here (default: where it "
        "was trained); a checkpoint with other weights is refused",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="where the model's networks and SSL checkpoint run: auto (a GPU when torch "
        "sees one; default), cpu or cuda",
    )


def add_bundle_out(parser: argparse.ArgumentParser, what: str) -> None:
    """``--out`` (a bundle folder that must not exist yet) and ``--overwrite``."""
    parser.add_argument("--out", type=Path, required=True, help=what)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")


def check_bundle_out(args: argparse.Namespace) -> Path:
    """``args.out``, unless it exists and ``--overwrite`` is not given, or it is not a
    bundle that ``--overwrite`` may replace (checked before the work starts, after a
    bundle that a killed write left aside is put back)."""
    from emoshift.bundle.io import check_replaceable, is_bundle  # noqa: PLC0415 (fast --help)
    from emoshift.bundle.replace import recover  # noqa: PLC0415

    recover(args.out, is_bundle)
    if args.out.exists() and not args.overwrite:
        raise ValueError(f"--out {args.out} already exists; pass --overwrite or another folder")
    try:
        check_replaceable(args.out, args.overwrite)
    except FileExistsError as error:
        raise ValueError(f"--out {error}") from None
    return args.out
