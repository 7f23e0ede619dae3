"""Tables for a paper (wide, per-class; CSV, LaTeX, Markdown, HTML), Holm's correction,
the few-trials mark, and figures drawn for a chosen scope from cached projections."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score, recall_score

import emoshift.report.experiment_figures as experiment_figures
from emoshift.cli import main
from emoshift.report.experiment import write_experiment_report
from emoshift.report.figure_scope import FigureScope
from emoshift.report.latex import latex_escape, to_latex
from emoshift.report.paper_tables import class_scores, per_class_table, wide_table
from emoshift.report.stats import holm
from emoshift.report.tables import format_table, to_markdown

LABELS = ["anger", "neutral", "sadness"]
PAIRS = ["a->b", "a->c"]
VARIANTS = {"source_only": 0.0, "dann": 0.08, "coral_x&y": 0.01}
TRIALS = {"a->b": 7, "a->c": 3}  # a->b: Holm over 2 Wilcoxon tests can reach p < 0.05
ROWS = 400


def _confusion(rng: np.random.Generator) -> list[list[int]]:
    return rng.integers(0, 12, size=(3, 3)).tolist()


def make_run(directory: Path) -> list[dict]:
    """A classification run: 2 pairs x 3 variants, artifacts of 400 rows for trial 0."""
    rng = np.random.default_rng(3)
    (directory / "artifacts").mkdir(parents=True)
    lines = []
    for pair in PAIRS:
        for variant, gain in VARIANTS.items():
            for trial in range(TRIALS[pair]):
                key = f"{variant}|{pair}|{trial}"
                artifact = f"artifacts/{variant}-{pair[-1]}.npz" if trial == 0 else None
                if artifact:
                    domain = np.repeat([0, 1], ROWS // 2)
                    layer = rng.normal(size=(ROWS, 6)) + domain[:, None]
                    label = np.array([LABELS[i % 3] for i in range(ROWS)])
                    np.savez(directory / artifact, layer_0=layer, domain=domain, label=label)
                uar = 0.5 + gain + 0.002 * trial + rng.normal(scale=0.005)
                lines.append(
                    {
                        "key": key,
                        "status": "ok",
                        "method": variant,
                        "variant": variant,
                        "pair": pair,
                        "protocol": "cross_domain",
                        "trial": trial,
                        "task": "classification",
                        "metrics": {"uar": uar},
                        "labels": LABELS,
                        "confusion": _confusion(rng),
                        "history": [],
                        "embeddings": artifact,
                    }
                )
    (directory / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    config = {"name": "paper", "baseline": "source_only", "task": "classification"}
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    return lines


class CountingProjection:
    """Stands for t-SNE: records the shape of every projection asked for."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, features: np.ndarray, method: str = "tsne") -> np.ndarray:
        self.shapes.append(np.shape(features))
        return np.asarray(features)[:, :2]


@pytest.fixture()
def projection(monkeypatch) -> CountingProjection:
    counting = CountingProjection()
    monkeypatch.setattr(experiment_figures, "project", counting)
    monkeypatch.setattr(experiment_figures, "projection_methods", lambda: ("tsne",))
    return counting


# --- statistics and number formatting -----------------------------------------------------


def test_holm_matches_a_hand_computation():
    p = [0.01, 0.04, 0.03, 0.005, float("nan")]
    # sorted: 0.005 (x4), 0.01 (x3), 0.03 (x2), 0.04 (x1); running maximum; NaN not counted
    expected = [0.03, 0.06, 0.06, 0.02]
    assert holm(p)[:4] == pytest.approx(expected)
    assert np.isnan(holm(p)[4])
    assert holm([0.5, 0.6]) == [1.0, 1.0]  # capped at 1
    assert holm([]) == []


def test_a_difference_that_rounds_to_zero_prints_unsigned():
    frame = pd.DataFrame({"variant": ["x"], "uar_diff": [-1.9e-17], "p_value": [-0.0]})
    assert format_table(frame).values.tolist() == [["x", "0.000", "0.000"]]
    assert "-0.000" not in to_markdown(frame) and "-0.000" not in to_latex(frame)
    assert format_table(pd.DataFrame({"d": [-0.0004, -0.0006]}))["d"].tolist() == [
        "0.000",
        "-0.001",
    ]


# --- LaTeX ---------------------------------------------------------------------------------


def test_latex_escapes_every_special_character():
    assert latex_escape("a_b & 50% #1 $x$ {y} ~ ^ \\ < >") == (
        r"a\_b \& 50\% \#1 \$x\$ \{y\} \textasciitilde{} \textasciicircum{} "
        r"\textbackslash{} \textless{} \textgreater{}"
    )
    frame = pd.DataFrame({"variant": ["coral_x&y"], "uar_mean": [0.5], "uar_std": [0.1]})
    text = to_latex(frame, legend="† few")
    lines = text.splitlines()
    assert lines[1:3] == [r"\begin{tabular}{lr}", r"\toprule"]
    assert r"coral\_x\&y & 0.500 $\pm$ 0.100 \\" in lines
    assert lines[-3:] == [
        r"\bottomrule",
        r"\end{tabular}",
        r"\par{\footnotesize \textsuperscript{\dag} few\par}",
    ]


def test_latex_rows_never_start_with_a_bracket_or_print_a_bar_as_a_dash():
    r"""``\\``, ``\toprule`` and ``\midrule`` read a ``[`` that follows them as their
    optional argument, so a row or header starting with ``[`` would not compile; ``|``
    prints as a dash in LaTeX's default font encoding."""
    nan = float("nan")
    frame = pd.DataFrame({"[pair]": ["[a]->b", "a|b"], "uar_mean": [0.5, 0.6], "uar_std": nan})
    lines = to_latex(frame).splitlines()
    assert lines[3] == r"{}[pair] & uar \\"
    assert lines[5:7] == [r"{}[a]-\textgreater{}b & 0.500 \\", r"a\textbar{}b & 0.600 \\"]


# --- the tables of a run -------------------------------------------------------------------


def test_per_class_scores_match_the_confusion_matrices(tmp_path):
    lines = make_run(tmp_path)
    table = per_class_table(lines)
    assert len(table) == len(PAIRS) * len(VARIANTS) * len(LABELS)
    for row in table.to_dict("records"):
        trials = [x for x in lines if (x["pair"], x["variant"]) == (row["pair"], row["variant"])]
        index = LABELS.index(row["class"])
        recalls = []
        f1s = []
        for trial in trials:  # the counts as label lists, scored by scikit-learn
            counts = np.asarray(trial["confusion"])
            true = [i for i in range(3) for j in range(3) for _ in range(counts[i, j])]
            predicted = [j for i in range(3) for j in range(3) for _ in range(counts[i, j])]
            recalls.append(recall_score(true, predicted, labels=[index], average=None)[0])
            f1s.append(f1_score(true, predicted, labels=[index], average=None)[0])
        assert row["n_trials"] == len(trials)
        assert row["recall_mean"] == pytest.approx(np.mean(recalls))
        assert row["recall_std"] == pytest.approx(np.std(recalls, ddof=1))
        assert row["f1_mean"] == pytest.approx(np.mean(f1s))
    recall, f1 = class_scores([[0, 0], [0, 2]])  # class 0: no example, never predicted
    assert np.isnan(recall[0]) and np.isnan(f1[0]) and recall[1] == f1[1] == 1.0


def test_report_writes_each_table_in_every_format_with_marks(tmp_path, projection):
    make_run(tmp_path)
    report = write_experiment_report(tmp_path, scope=FigureScope(embeddings=False))
    out = tmp_path / "report"
    assert set(report.tables) == {"results", "wide", "per_class"}
    for paths in report.tables.values():
        assert set(paths) == {"md", "csv", "json", "tex", "html"}
        assert all(path.is_file() and path.parent == out for path in paths.values())
        assert "\\toprule" in paths["tex"].read_text() and "<table>" in paths["html"].read_text()
    wide = pd.read_csv(out / "wide.csv")
    assert wide.columns.tolist() == ["variant", *PAIRS]
    assert wide["variant"].tolist() == list(VARIANTS)
    table = report.table.set_index(["pair", "variant"])
    dann_b, dann_c = wide.loc[1, "a->b"], wide.loc[1, "a->c"]
    # a->b: 6 matched trials, DANN clearly better: significant after Holm, no few-trials mark
    assert bool(table.loc[("a->b", "dann"), "significant"]) and dann_b.endswith("*")
    assert not bool(table.loc[("a->b", "dann"), "few_matched"])
    # a->c: 3 matched trials: marked in every table
    assert bool(table.loc[("a->c", "dann"), "few_matched"]) and dann_c.endswith("†")
    assert wide.loc[0, "a->b"] == format_table(report.table).loc[0, "uar"]  # baseline: no mark
    assert (
        "†" in (out / "wide.md").read_text() and "few_matched" in (out / "results.md").read_text()
    )
    assert r"\textsuperscript{\dag}" in (out / "wide.tex").read_text()
    assert r"\begin{tabular}{lrr}" in (out / "wide.tex").read_text()  # scores to the right
    assert "Holm-corrected" in (out / "wide.tex").read_text()
    page = report.html.read_text()
    assert "<h2>Variants x pairs (UAR)</h2>" in page
    assert "<h2>Per-class recall and F1 on target test data</h2>" in page
    header = re.search(r"<h2>Against the baseline.*?</thead>", page, re.S).group(0)
    assert "few_matched" in header and "p_holm" in header
    assert r"coral\_x\&y" in (out / "wide.tex").read_text()
    assert projection.shapes == []


def test_wide_table_puts_each_condition_in_its_own_column():
    table = pd.DataFrame(
        {
            "pair": ["p", "p"],
            "k": pd.array([2, 4], dtype="Int64"),
            "variant": ["dann", "dann"],
            "uar_mean": [0.5, 0.6],
            "uar_std": [float("nan"), 0.1],
        }
    )
    assert wide_table(table, "uar").to_dict("records") == [
        {"variant": "dann", "p (k = 2)": "0.500", "p (k = 4)": "0.600 ± 0.100"}
    ]


# --- figures: scope, sampling, cache -------------------------------------------------------


def test_projections_use_a_sample_and_are_cached_in_the_run_folder(tmp_path, projection):
    make_run(tmp_path)
    scope = FigureScope(points=50)
    first = write_experiment_report(tmp_path, scope=scope)
    # first pair only, baseline + 2 variants, one layer each: 3 projections of 50 rows
    assert projection.shapes == [(50, 6)] * 3
    assert first.projections == {"computed": 3, "cached": 0}
    assert len(list((tmp_path / "projections").glob("*.npz"))) == 3
    tsne = [c for c in first.figures if c.startswith("t-SNE")]
    assert len(tsne) == 2 and all(", a->b:" in c for c in tsne)
    projection.shapes.clear()
    second = write_experiment_report(tmp_path, scope=scope)
    assert projection.shapes == [] and second.projections == {"computed": 0, "cached": 3}
    assert second.html.read_bytes() == first.html.read_bytes()
    write_experiment_report(tmp_path, scope=FigureScope(points=60))  # another sample: computed
    assert projection.shapes == [(60, 6)] * 3
    for cached in (tmp_path / "projections").glob("*.npz"):
        cached.write_bytes(b"not an npz")  # a damaged cache is computed again, no error
    assert write_experiment_report(tmp_path, scope=scope).projections == {
        "computed": 3,
        "cached": 0,
    }
    assert write_experiment_report(tmp_path, scope=scope).projections["cached"] == 3


def test_a_changed_artifact_is_projected_again(tmp_path, projection):
    make_run(tmp_path)
    write_experiment_report(tmp_path, scope=FigureScope(variants=("dann",)))
    assert len(projection.shapes) == 2  # the baseline beside DANN
    with np.load(tmp_path / "artifacts" / "dann-b.npz") as stored:
        arrays = dict(stored)
    arrays["layer_0"] = arrays["layer_0"] + 1.0
    np.savez(tmp_path / "artifacts" / "dann-b.npz", **arrays)
    projection.shapes.clear()
    report = write_experiment_report(tmp_path, scope=FigureScope(variants=("dann",)))
    assert report.projections == {"computed": 1, "cached": 1}


def test_scope_chooses_pairs_and_variants(tmp_path, projection):
    make_run(tmp_path)
    report = write_experiment_report(
        tmp_path, scope=FigureScope(pairs=("a->c",), variants=("dann",), embeddings=False)
    )
    confusion = [c for c in report.figures if c.startswith("Confusion matrix")]
    assert confusion == [
        "Confusion matrix of dann, a->c: target test counts summed over 3 trial(s)"
    ]
    assert projection.shapes == []
    assert "Per-pair figures are drawn for 1 of 2 pair(s) (a-&gt;c)" in report.html.read_text()
    everything = write_experiment_report(tmp_path, scope=FigureScope(pairs=("all",)))
    assert sum(c.startswith("Confusion matrix") for c in everything.figures) == 6
    assert sum(c.startswith("t-SNE") for c in everything.figures) == 4
    with pytest.raises(ValueError, match=r"pair\(s\) \['x->y'\] are not in this run; it has"):
        write_experiment_report(tmp_path, scope=FigureScope(pairs=("x->y",)))
    with pytest.raises(ValueError, match="between 3 and 400"):
        FigureScope(points=401)


def test_cli_report_options(tmp_path, capsys, projection):
    make_run(tmp_path)
    assert main(["report", str(tmp_path), "--figure-pairs", "none"]) == 0
    assert not list((tmp_path / "report" / "figures").glob("*.png"))
    args = ["report", str(tmp_path), "--figure-variants", "dann", "--embedding-points", "40"]
    assert main(args) == 0
    assert "projections: 2 computed, 0 read from" in capsys.readouterr().out
    assert projection.shapes == [(40, 6)] * 2
    assert main([*args[:2], "--figure-pairs", "nowhere"]) == 2
    assert "['nowhere'] are not in this run" in capsys.readouterr().err


def test_a_cache_that_cannot_be_written_warns_once_and_the_report_goes_on(tmp_path, capsys):
    from emoshift.report.projection_cache import ProjectionCache  # noqa: PLC0415

    (tmp_path / "projections").write_text("a file where the cache folder should be")
    cache = ProjectionCache(tmp_path / "projections")
    cache.save("a", np.zeros((3, 2)), np.arange(3))
    cache.save("b", np.zeros((3, 2)), np.arange(3))
    assert capsys.readouterr().err.count("cannot keep projections in") == 1
    assert cache.load("a", np.arange(3)) is None


@pytest.mark.bad_input
def test_a_cached_projection_whose_header_asks_for_terabytes_is_named_not_read(tmp_path, capsys):
    """A crafted ``.npz`` whose ``points`` header says 10^12 x 2 float64 (16 TB) with a few
    bytes behind it: read, it raised MemoryError out of the report. Now the header is
    checked against the sample first: a miss, and a warning that names the file."""
    import io  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    from emoshift.report.projection_cache import ProjectionCache  # noqa: PLC0415

    cache = ProjectionCache(tmp_path)
    crafted = tmp_path / "k.npz"
    with zipfile.ZipFile(crafted, "w") as archive:
        for name, shape, dtype in (("points", (10**12, 2), "<f8"), ("rows", (3,), "<i8")):
            member = io.BytesIO()
            header = {"descr": dtype, "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(member, header)
            archive.writestr(f"{name}.npy", member.getvalue() + bytes(64))
    assert cache.load("k", np.arange(3)) is None
    assert (cache.hits, cache.misses) == (0, 1)
    warning = capsys.readouterr().err
    assert f"cached projection {crafted}: points is a float64 array of shape" in warning
    assert "(1000000000000, 2), expected (3, 2); it is computed again" in warning
    crafted.write_bytes(b"PK not a zip")
    assert cache.load("k", np.arange(3)) is None
    assert f"cached projection {crafted}: unreadable" in capsys.readouterr().err
    cache.save("k", np.ones((3, 2)), np.arange(3))
    assert cache.load("k", np.arange(3)).tolist() == [[1.0, 1.0]] * 3


def test_a_cached_projection_with_other_rows_is_projected_again(tmp_path, projection):
    """A cache file that reads as arrays but whose rows are not the sample drawn now (out
    of range, another sample) is a miss: no IndexError, no points put on other rows."""
    make_run(tmp_path)
    scope = FigureScope(points=50, variants=("dann",))
    write_experiment_report(tmp_path, scope=scope)
    for cached in (tmp_path / "projections").glob("*.npz"):
        np.savez(cached, points=np.zeros((50, 2)), rows=np.arange(10_000, 10_050))
    report = write_experiment_report(tmp_path, scope=scope)
    assert report.projections == {"computed": 2, "cached": 0}
    assert write_experiment_report(tmp_path, scope=scope).projections["cached"] == 2
