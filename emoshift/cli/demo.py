"""``emoshift demo``: the bundled demo config run through the experiment pipeline.

The defaults shown by ``emoshift demo --help`` are read from the bundled config
(``emoshift/configs/demo.yaml``); an option given on the command line edits that config
before it runs (see :func:`emoshift.demo.demo_config`).
"""

from __future__ import annotations

import argparse
import time

from emoshift.cli._parsers import command_parser
from emoshift.configs import bundled_config

HELP = "run the whole pipeline on the embedded synthetic corpus"
DESCRIPTION = (
    "Run the bundled demo config (emoshift/configs/demo.yaml) like "
    "'emoshift run' runs a config: generate the synthetic corpus (acted -> spontaneous), "
    "extract eGeMAPS features, train baselines and unsupervised adaptation methods over "
    "seeded trials, print the results table and write an HTML/Markdown report. The "
    "output folder is the run folder: running again resumes."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    config = bundled_config("demo")
    methods = list(config["methods"])
    budgets = sorted({p.get("max_epochs") for p in config["methods"].values() if p})
    corpus = next(iter(config["corpora"].values())).get("options", {})
    parser = command_parser(subparsers, "demo", HELP, DESCRIPTION, _run)
    parser.add_argument(
        "--out", default="emoshift-demo", help="output and run folder (default: %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help=f"corpus and trial seed (default: {config['seed']})"
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=None,
        help=f"seeded trials per method (default: {config['trials']})",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help=f"methods to run (default: {' '.join(methods)})",
    )
    parser.add_argument(
        "--preset",
        default=None,
        help=f"synthetic corpus size: demo or tiny (default: {corpus.get('preset')})",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"maximum epochs per model (default: {', '.join(map(str, budgets))})",
    )
    parser.add_argument("--jobs", type=int, default=None, help="feature extraction processes")
    parser.add_argument(
        "--cache-dir", default=None, help="feature cache (default: $EMOSHIFT_CACHE, else OUT/cache)"
    )


def _run(args: argparse.Namespace) -> int:
    from emoshift.cli.results import print_results  # noqa: PLC0415
    from emoshift.demo import run_demo  # noqa: PLC0415 (keep `emoshift --help` fast)

    started = time.perf_counter()
    result = run_demo(
        args.out,
        preset=args.preset,
        seed=args.seed,
        n_trials=args.trials,
        methods=args.methods,
        max_epochs=args.epochs,
        n_jobs=args.jobs,
        cache_dir=args.cache_dir,
    )
    if result.run.n_failed:
        print(f"{result.run.n_failed} trial(s) failed: see the report\n")
    print_results(
        result.report,
        "emoshift demo (synthetic corpus): target-domain test scores, mean ± std over "
        f"{result.config.trials} trial(s)",
    )
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 1 if result.run.n_failed else 0
