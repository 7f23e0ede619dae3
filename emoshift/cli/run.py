"""``emoshift run CONFIG``: run an experiment grid, resumable, then write its report.

Run every trial of an experiment YAML (methods x pairs x protocol conditions x trials).
Finished trials are skipped, so running the same command again resumes an interrupted run.
Queries, labels and protocol conditions are checked on the corpus table before any
feature is extracted. Results go to OUTPUT/results.jsonl, a report to OUTPUT/report/, and
the results table is printed at the end.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from emoshift.cli._parsers import add_config, command_parser, described

HELP = "run the trials of an experiment config (resumable)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(subparsers, "run", HELP, described(__doc__), _run)
    add_config(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check the config on the corpora and list the trials; extracts and trains nothing",
    )
    parser.add_argument(
        "--executor",
        default=None,
        metavar="{serial,processes,ray}",
        help="where trials run (default: the config's, else serial)",
    )
    parser.add_argument("--jobs", type=int, default=None, help="parallel trials (-1: one per CPU)")
    parser.add_argument(
        "--address",
        default=None,
        help="Ray cluster address for --executor ray (default: a local Ray); give --jobs "
        "the cluster's CPUs so that stack: auto leaves no worker idle",
    )
    parser.add_argument(
        "--stack",
        type=_stack,
        default=None,
        metavar="N|auto",
        help="train up to N trials of one method and pair together as one stacked network; "
        "1: each trial alone (default: the config's stack, else auto: 5 where torch sees "
        "no GPU, else 1)",
    )
    parser.add_argument(
        "--stack-masks",
        choices=("exact", "fast"),
        default=None,
        help="dropout masks of stacked trials: exact (each trial's numbers as if it trained "
        "alone) or fast (cheaper draws, other numbers) (default: the config's, else exact)",
    )
    parser.add_argument("--output", default=None, help="run folder (default: the config's)")
    parser.add_argument("--no-report", action="store_true", help="skip writing the report")


def _stack(value: str) -> int | str:
    """``--stack``'s value: a number of trials, or ``auto``."""
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: give a number of trials or auto") from None


def _dry_run(args: argparse.Namespace) -> int:
    from emoshift.experiment.config import load_config  # noqa: PLC0415 (fast --help)
    from emoshift.experiment.runner import dry_run, trial_workers  # noqa: PLC0415
    from emoshift.experiment.stacking import (  # noqa: PLC0415
        Alone,
        stack_settings,
        stacks,
    )
    from emoshift.experiment.store import ResultStore  # noqa: PLC0415

    config = load_config(args.config)
    stacking = stack_settings(  # what run refuses, before the data is read
        config.stack,
        config.stack_masks,
        stack=args.stack,
        masks=args.stack_masks,
        executor=args.executor or config.executor,
        jobs=trial_workers(args.jobs, config.jobs),
    )
    checked = dry_run(config)
    run_dir = args.output or config.output_dir()
    finished = ResultStore(run_dir).finished_keys() if Path(run_dir).exists() else set()
    specs = checked.specs
    if checked.uncached:
        print(
            f"{len(specs)} trial(s) in {config.name!r}; {len(checked.uncached)} of "
            f"{checked.n_files} audio file(s) have no cached features: run extracts them "
            "first (a dry run extracts nothing)"
            + (
                f". Trial keys hash the features: which of the {len(finished)} trial(s) "
                f"finished in {run_dir} these are shows once the features are cached"
                if finished
                else f"; nothing has finished in {run_dir} yet"
            )
        )
    else:
        print(
            f"{len(specs)} trial(s) in {config.name!r}; {len(finished & {s.key for s in specs})}"
            f" already finished in {run_dir}; the features of all {checked.n_files} audio "
            "file(s) are cached"
        )
    todo = [spec for spec in specs if spec.key not in finished]
    units = stacking.units(specs, todo)
    stacked = stacks(units)
    if stacked:
        print(
            f"{sum(len(s.members) for s in stacked)} of the {len(todo)} trial(s) to run train "
            f"in {len(stacked)} stack(s) of up to {stacking.size}"
            + (" (stack: auto)" if stacking.auto else "")
            + f" ({stacking.masks} dropout masks"
            + (": the numbers of each trial alone)" if stacking.masks == "exact" else ")")
        )
    alone = Counter(unit.reason for unit in units if isinstance(unit, Alone))
    for reason, count in alone.items():
        print(f"{count} trial(s) run alone: {reason}")
    for spec in specs:
        state = "done" if spec.key in finished else "?" if spec.key == "" and finished else "todo"
        print(
            f"{state:<4}  {spec.key[:12] or '-' * 12}  {spec.variant:<28} {spec.pair:<28} "
            f"{spec.protocol} {spec.condition()} trial={spec.trial}"
        )
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.dry_run:
        return _dry_run(args)
    from emoshift.experiment.config import load_config  # noqa: PLC0415 (fast --help)
    from emoshift.experiment.runner import Terminated, run_experiment  # noqa: PLC0415
    from emoshift.runfolder import RunFolder  # noqa: PLC0415

    config = load_config(args.config)
    try:
        summary = run_experiment(
            config,
            executor=args.executor,
            jobs=args.jobs,
            address=args.address,
            run_dir=args.output,
            stack=args.stack,
            stack_masks=args.stack_masks,
        )
    except KeyboardInterrupt as stop:
        run_dir = args.output or config.output_dir()
        print(
            f"{'terminated' if isinstance(stop, Terminated) else 'interrupted'}: every finished "
            f"trial is kept in {run_dir}; run the same command again to compute the rest",
            file=sys.stderr,
        )
        return 143 if isinstance(stop, Terminated) else 130
    print(
        f"{summary.n_planned} trial(s): {summary.n_skipped} already finished, "
        f"{summary.n_done} run now, {summary.n_failed} failed "
        f"({summary.seconds:.0f} s); results in {RunFolder(summary.run_dir).results}"
    )
    for reason, count in summary.failure_reasons.items():
        print(f"  {count} x {reason}")
    if not args.no_report:
        from emoshift.cli.results import print_results  # noqa: PLC0415
        from emoshift.report.experiment import write_experiment_report  # noqa: PLC0415

        report = write_experiment_report(summary.run_dir)
        print_results(report, f"\n{config.name}: target test scores, mean ± std over trials")
    return 1 if summary.n_failed else 0
