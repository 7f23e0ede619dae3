"""``emoshift demo``: the whole pipeline on the embedded synthetic corpus."""

from __future__ import annotations

import argparse
import time

DEMO_METHODS = ("source_only", "dann", "coral", "mrd", "train_on_target")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on the embedded synthetic corpus",
        description="Generate the synthetic corpus (acted -> spontaneous), extract eGeMAPS "
        "features, train baselines and unsupervised adaptation methods over seeded trials, "
        "print the results table and write an HTML/Markdown report.",
    )
    parser.add_argument(
        "--out", default="emoshift-demo", help="output folder (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="corpus and first trial seed")
    parser.add_argument("--trials", type=int, default=3, help="seeded trials per method")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(DEMO_METHODS),
        metavar="METHOD",
        help="methods to run (default: %(default)s)",
    )
    parser.add_argument("--preset", default="demo", help="synthetic corpus size: demo or tiny")
    parser.add_argument("--epochs", type=int, default=60, help="maximum epochs per model")
    parser.add_argument("--jobs", type=int, default=None, help="feature extraction processes")
    parser.add_argument("--cache-dir", default=None, help="feature cache (default: OUT/cache)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from emoshift.demo import run_demo  # noqa: PLC0415 (keep `emoshift --help` fast)
    from emoshift.report.tables import to_markdown  # noqa: PLC0415

    started = time.perf_counter()
    result = run_demo(
        args.out,
        preset=args.preset,
        seed=args.seed,
        n_trials=args.trials,
        methods=tuple(args.methods),
        max_epochs=args.epochs,
        n_jobs=args.jobs,
        cache_dir=args.cache_dir,
    )
    print(
        "emoshift demo (synthetic corpus): target-domain test scores, mean ± std over "
        f"{args.trials} trial(s)\n"
    )
    print(to_markdown(result.table))
    print(f"\nreport: {result.report_html}\n        {result.report_markdown}")
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0
