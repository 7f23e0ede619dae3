"""``emoshift run CONFIG``: run an experiment grid, resumable, then write its report.

Run every trial of an experiment YAML (methods x pairs x protocol conditions x trials).
Finished trials are skipped, so running the same command again resumes an interrupted run.
Results go to OUTPUT/results.jsonl and a report to OUTPUT/report/.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

from emoshift.cli._parsers import add_config, command_parser, described

HELP = "run the trials of an experiment config (resumable)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(subparsers, "run", HELP, described(__doc__), _run)
    add_config(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="print the trials that would run, and run none"
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
        help="Ray cluster address for --executor ray (default: a local Ray)",
    )
    parser.add_argument(
        "--stack",
        type=int,
        default=None,
        metavar="N",
        help="train up to N trials of one method and pair together as one stacked network "
        "(default: the config's stack, else 1: each trial alone)",
    )
    parser.add_argument("--output", default=None, help="run folder (default: the config's)")
    parser.add_argument("--no-report", action="store_true", help="skip writing the report")


def _dry_run(args: argparse.Namespace) -> int:
    from emoshift.experiment.config import load_config  # noqa: PLC0415 (fast --help)
    from emoshift.experiment.runner import prepare_run, stack_size, trial_workers  # noqa: PLC0415
    from emoshift.experiment.stacking import plan_units  # noqa: PLC0415
    from emoshift.experiment.store import ResultStore  # noqa: PLC0415

    config = load_config(args.config)
    trial_workers(args.jobs, config.jobs)  # what run would refuse, before the data is read
    size = stack_size(args.stack, config.stack)
    _, specs = prepare_run(config)
    run_dir = args.output or config.output_dir()
    finished = (
        ResultStore(run_dir).finished_keys()
        if (args.output or config.output_dir().exists())
        else set()
    )
    print(
        f"{len(specs)} trial(s) in {config.name!r}; {len(finished & {s.key for s in specs})}"
        f" already finished in {run_dir}"
    )
    todo = [spec for spec in specs if spec.key not in finished]
    stacks = [unit for unit in plan_units(specs, todo, size) if isinstance(unit, tuple)]
    if stacks:
        print(
            f"{sum(map(len, stacks))} of the {len(todo)} trial(s) to run train in "
            f"{len(stacks)} stack(s) of up to {size}"
        )
    for spec in specs:
        state = "done" if spec.key in finished else "todo"
        print(
            f"{state}  {spec.key[:12]}  {spec.variant:<28} {spec.pair:<28} "
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
    if not args.no_report and importlib.util.find_spec("emoshift.report.experiment"):
        from emoshift.report.experiment import write_experiment_report  # noqa: PLC0415

        report = write_experiment_report(summary.run_dir)
        print(f"report: {report.html}")
    return 1 if summary.n_failed else 0
