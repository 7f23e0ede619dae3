"""``emoshift report RUN_DIR``: tables, significance, figures and an HTML page of a run.

Read RUN_DIR/results.jsonl and config.yaml and write results.md, results.csv, results.json
(mean ± std per variant, pair and condition; paired test against the baseline) and a
self-contained report.html with the figures.
"""

from __future__ import annotations

import argparse
import sys

from emoshift.cli._parsers import command_parser, described

HELP = "write the report of an 'emoshift run' folder"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` sub-command.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> register(parser.add_subparsers())
        >>> parser.parse_args(["report", "runs/demo", "--out", "r"]).out
        'r'
    """
    parser = command_parser(subparsers, "report", HELP, described(__doc__), _report)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="folder written by 'emoshift run'")
    parser.add_argument("--out", default=None, help="report folder (default: RUN_DIR/report)")


def _report(args: argparse.Namespace) -> int:
    from emoshift.report.experiment import write_experiment_report
    from emoshift.report.tables import to_markdown
    from emoshift.runfolder import RunFolder, latest, read_lines

    report = write_experiment_report(args.run_dir, args.out)
    print(to_markdown(report.table))
    if len(report.failures):
        print(f"\n{len(report.failures)} failed trial(s): see the report")
    folder = RunFolder(args.run_dir)
    missing = folder.progress_note(latest(read_lines(folder.results).records))
    if missing:
        print(
            f"report: {missing}; run `emoshift run CONFIG --output {folder.path}` again "
            "to finish the rest",
            file=sys.stderr,
        )
    print(f"\nreport: {report.html}\n        {report.markdown}")
    return 0
