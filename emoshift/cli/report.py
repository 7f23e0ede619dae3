"""``emoshift report RUN_DIR``: tables, significance, figures and an HTML page of a run.

Read RUN_DIR/results.jsonl and config.yaml and write three tables, each as .md, .csv,
.json, .tex (booktabs) and .html: results (mean ± std per variant, pair and condition;
paired test against the baseline, Holm-corrected), wide (variants x pairs, marked) and
per_class (recall and F1 of each class); and a self-contained report.html with the
figures. Per-pair figures are drawn for the first pair unless --figure-pairs says
otherwise; t-SNE/UMAP projections are kept in RUN_DIR/projections/ and read back by the
next report.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from emoshift.cli._parsers import command_parser, described

if TYPE_CHECKING:
    from emoshift.report.figure_scope import FigureScope

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
    parser.add_argument(
        "--figure-pairs",
        nargs="+",
        metavar="PAIR",
        help="pairs that get figures: pair names, 'first' (default), 'all' or 'none'",
    )
    parser.add_argument(
        "--figure-variants",
        nargs="+",
        metavar="VARIANT",
        help="variants that get confusion matrices and t-SNE panels: names, 'all' "
        "(default) or 'none'; the baseline is drawn beside them",
    )
    parser.add_argument(
        "--embedding-points",
        type=int,
        metavar="N",
        help="rows of each stored embedding to project (default 200, at most 400)",
    )
    parser.add_argument("--no-embeddings", action="store_true", help="draw no t-SNE/UMAP figure")
    parser.add_argument(
        "--colour-by",
        nargs="+",
        metavar="COLUMN",
        default=[],
        help="corpus-table columns (e.g. session, speaker) to colour each t-SNE/UMAP "
        "figure by, one more figure per column",
    )


def _report(args: argparse.Namespace) -> int:
    from emoshift.report.experiment import write_experiment_report
    from emoshift.report.tables import to_markdown
    from emoshift.runfolder import RunFolder, latest, read_lines

    report = write_experiment_report(args.run_dir, args.out, figure_scope(args))
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
    if report.projections.get("computed") or report.projections.get("cached"):
        print(
            f"\nprojections: {report.projections['computed']} computed, "
            f"{report.projections['cached']} read from {folder.projections}"
        )
    print(f"\nreport: {report.html}\n        {report.markdown}")
    return 0


def figure_scope(args: argparse.Namespace) -> FigureScope:
    """The :class:`~emoshift.report.figure_scope.FigureScope` of the ``report`` options:
    its defaults where an option is not given, ``none`` for no name.

    Example:
        >>> args = argparse.Namespace(figure_pairs=["none"], figure_variants=None,
        ...                           embedding_points=100, no_embeddings=False,
        ...                           colour_by=["session"])
        >>> scope = figure_scope(args)
        >>> scope.pairs, scope.variants, scope.points, scope.colour_by
        ((), ('all',), 100, ('session',))
    """
    from emoshift.report.figure_scope import FigureScope

    given = {
        "pairs": args.figure_pairs,
        "variants": args.figure_variants,
        "points": args.embedding_points,
    }
    options = {
        name: () if value == ["none"] else tuple(value) if isinstance(value, list) else value
        for name, value in given.items()
        if value is not None
    }
    return FigureScope(
        **options,
        embeddings=not args.no_embeddings,
        colour_by=tuple(args.colour_by),
    )
