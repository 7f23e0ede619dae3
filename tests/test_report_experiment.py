"""Experiment report: a fake run folder -> tables checked against numpy/scipy, HTML figures."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from emoshift.cli import main
from emoshift.report.embeddings import load_embeddings, project
from emoshift.report.experiment import (
    model_selection_note,
    read_run,
    write_experiment_report,
)
from emoshift.report.figures import (
    domain_accuracy_figure,
    embedding_scatter_figure,
    metric_curve_figure,
)
from emoshift.report.trial_tables import failures_table

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["anger", "happiness", "neutral", "sadness"]
PAIR = "acted->spontaneous"
VARIANTS = {  # variant -> (method, params, UAR gain over the baseline, domain shift left)
    "source_only": ("source_only", {}, 0.0, 4.0),
    "dann": ("dann", {}, 0.06, 0.3),
    "dann[lambda_max=0.5]": ("dann", {"lambda_max": 0.5}, 0.03, 1.5),
}
TRIALS = {2: 6, 4: 6, 8: 4}  # k -> trials: Wilcoxon from 6 matched trials, t-test below
N_POINTS = 48


def _line(variant: str, k: int, trial: int, rng: np.random.Generator, **extra) -> dict:
    method, params, gain, shift = VARIANTS[variant]
    uar = 0.4 + 0.01 * k + gain + rng.normal(scale=0.02)
    history = []
    for epoch in range(8):
        entry = {"epoch": epoch, "loss": 1.0 / (epoch + 1), "dev_loss": 1.1 / (epoch + 1)}
        if method == "dann":  # the domain classifier is fooled faster the less shift is left
            accuracy = 0.5 + 0.45 * np.exp(-epoch / (2 + shift)) + rng.normal(scale=0.02)
            entry |= {"domain_acc_source": accuracy, "domain_acc_target": accuracy - 0.05}
        history.append(entry)
    return {
        "key": f"{variant}|{k}|{trial}",
        "status": "ok",
        "error": None,
        "experiment": "fake-few-shot",
        "method": method,
        "params": params,
        "variant": variant,
        "pair": PAIR,
        "protocol": "few_shot",
        "k": k,
        "size": None,
        "fold": None,
        "trial": trial,
        "seed": 100 + trial,
        "task": "classification",
        "metrics": {"uar": uar, "wa": uar + 0.01, "f1": uar - 0.02},
        "labels": LABELS,
        "confusion": rng.integers(0, 20, size=(4, 4)).tolist(),
        "history": history,
        "embeddings": f"artifacts/{variant}-{k}.npz" if trial == 0 else None,
    } | extra


def _artifact(path: Path, shift: float, rng: np.random.Generator, layers: int) -> None:
    domain = np.repeat([0, 1], N_POINTS // 2)
    label = np.array(LABELS * (N_POINTS // 4))
    centres = rng.normal(scale=3.0, size=(4, 16))
    layer_0 = centres[[LABELS.index(v) for v in label]] + rng.normal(size=(N_POINTS, 16))
    layer_0[domain == 1] += shift
    arrays = {"layer_0": layer_0, "layer_1": layer_0[:, :6] * 0.5}
    np.savez(path, **dict(list(arrays.items())[:layers]), domain=domain, label=label)


def make_run(directory: Path) -> dict[str, dict]:
    """Write a fake run folder; return the lines that count (last line per key)."""
    rng = np.random.default_rng(7)
    (directory / "artifacts").mkdir(parents=True)
    lines = []
    for variant in VARIANTS:
        for k, n_trials in TRIALS.items():
            # the baseline is shallower: its layer_1 panel stays empty beside DANN's
            layers = 1 if variant == "source_only" else 2
            path = directory / "artifacts" / f"{variant}-{k}.npz"
            _artifact(path, VARIANTS[variant][3], rng, layers)
            lines += [_line(variant, k, trial, rng) for trial in range(n_trials)]
    lines.reverse()  # the report sorts: k = 8 comes first in the file, last in the table
    # a failed trial that stays failed
    failed = _line("dann", 8, 3, rng, status="error", metrics={}, confusion=None, history=[])
    failed["error"] = "Traceback (most recent call last):\n  ...\nRuntimeError: loss is NaN\n"
    lines = [x for x in lines if x["key"] != failed["key"]] + [failed]
    # a trial that failed once, then succeeded on a re-run: the later line wins
    retried = next(x for x in lines if x["key"] == "dann[lambda_max=0.5]|2|1")
    lines.insert(0, retried | {"status": "error", "error": "OSError: disk full", "metrics": {}})
    # a trial recorded twice with different scores: the later line wins
    again = next(x for x in lines if x["key"] == "source_only|4|2")
    lines.insert(0, again | {"metrics": {"uar": 0.99, "wa": 0.99, "f1": 0.99}})
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (directory / "results.jsonl").write_text(text, encoding="utf-8")
    config = {
        "name": "fake-few-shot",
        "baseline": "source_only",
        "task": "classification",
        "protocol": {"name": "few_shot", "k": list(TRIALS)},
        "metrics": ["uar", "wa", "f1"],
        "corpora": {"synth": {"loader": "synthetic", "path": "corpus"}},
    }
    (directory / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (directory / "timings.jsonl").write_text("", encoding="utf-8")
    return {line["key"]: line for line in lines}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("run")
    latest = make_run(directory)
    report = write_experiment_report(directory)
    return directory, latest, report


def _ok(latest: dict) -> list[dict]:
    return [line for line in latest.values() if line["status"] == "ok"]


def test_table_means_and_stds_match_numpy(run):
    _, latest, report = run
    table = report.table
    assert list(table.columns[:4]) == ["pair", "k", "variant", "n_trials"]
    assert len(table) == len(VARIANTS) * len(TRIALS)
    for row in table.itertuples(index=False):
        members = [
            line
            for line in _ok(latest)
            if line["variant"] == row.variant and line["k"] == row.k and line["pair"] == row.pair
        ]
        assert row.n_trials == len(members)
        for metric in ("uar", "wa", "f1"):
            values = [m["metrics"][metric] for m in members]
            assert getattr(row, f"{metric}_mean") == pytest.approx(np.mean(values))
            assert getattr(row, f"{metric}_std") == pytest.approx(np.std(values, ddof=1))
    # the re-run trials count once, with their last line
    rerun = table[(table["variant"] == "source_only") & (table["k"] == 4)].iloc[0]
    assert rerun["n_trials"] == 6 and rerun["uar_mean"] < 0.9
    assert (
        table.loc[(table["variant"] == "dann[lambda_max=0.5]") & (table["k"] == 2)][
            "n_trials"
        ].item()
        == 6
    )
    # the failed trial is not scored
    assert table.loc[(table["variant"] == "dann") & (table["k"] == 8)]["n_trials"].item() == 3


def _holm_by_hand(p_values: list[float]) -> list[float]:
    """Holm over a family of 2: the smaller p doubled, the larger at least that."""
    small, large = sorted(p_values)
    adjusted = {small: min(1.0, 2 * small), large: max(min(1.0, 2 * small), large)}
    return [adjusted[p] for p in p_values]


def test_paired_tests_match_scipy(run):
    _, latest, report = run
    tested = report.table[report.table["variant"] != "source_only"]
    assert report.table.loc[report.table["variant"] == "source_only", "p_value"].isna().all()
    for k in TRIALS:  # the family: the 2 variants tested against the baseline at this k
        family = tested[tested["k"] == k]
        expected = _holm_by_hand(family["p_value"].astype(float).tolist())
        assert family["p_holm"].astype(float).tolist() == pytest.approx(expected)
        assert family["significant"].tolist() == [p < 0.05 for p in expected]
        assert family["few_matched"].tolist() == [n < 5 for n in family["n_matched"]]
    assert tested["few_matched"].any() and not tested["few_matched"].all()
    for row in tested.itertuples(index=False):

        def scores(variant, k=row.k):
            return {
                line["trial"]: line["metrics"]["uar"]
                for line in _ok(latest)
                if line["variant"] == variant and line["k"] == k
            }

        variant, baseline = scores(row.variant), scores("source_only")
        shared = sorted(set(variant) & set(baseline))
        a, b = [variant[t] for t in shared], [baseline[t] for t in shared]
        expected = stats.wilcoxon(a, b) if len(shared) >= 6 else stats.ttest_rel(a, b)
        assert row.test == ("wilcoxon" if len(shared) >= 6 else "ttest")
        assert row.n_matched == len(shared)
        assert row.p_value == pytest.approx(expected.pvalue)
        assert row.p_holm >= row.p_value
        assert row.uar_diff == pytest.approx(np.mean(np.subtract(a, b)))
        assert row.baseline == "source_only"
    assert set(tested["test"]) == {"wilcoxon", "ttest"}


def test_table_files(run):
    directory, _, report = run
    out = directory / "report"
    suffixes = ("md", "csv", "json", "tex", "html")
    assert report.tables == {
        stem: {s: out / f"{stem}.{s}" for s in suffixes}
        for stem in ("results", "wide", "per_class")
    }
    rows = json.loads((out / "results.json").read_text())
    assert rows[0]["variant"] == "source_only" and rows[0]["p_value"] is None
    assert {"uar_mean", "uar_std", "uar_diff", "p_value", "significant"} <= rows[1].keys()
    csv = pd.read_csv(out / "results.csv")
    assert csv["uar_mean"].tolist() == pytest.approx(report.table["uar_mean"].tolist())
    markdown = (out / "results.md").read_text()
    assert markdown.startswith("| pair | k | variant | n_trials | uar |")
    assert markdown.count("\n| ") == 1 + len(report.table)  # the legend follows the table
    assert "p_holm < 0.05" in markdown and "few_matched" in markdown


def test_failed_trials_are_listed(run):
    directory, _, report = run
    assert report.failures[["variant", "k", "trial", "error"]].values.tolist() == [
        ["dann", 8, 3, "RuntimeError: loss is NaN"]
    ]
    page = (directory / "report" / "report.html").read_text()
    assert "<h2>Failed trials</h2>" in page and "RuntimeError: loss is NaN" in page
    assert "disk full" not in page  # that trial succeeded when re-run
    assert "2 trial(s) appear more than once" in page


def test_html_has_every_figure_and_nothing_external(run):
    directory, _, report = run
    page = (directory / "report" / "report.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">', page)
    # 1 curve + 3 confusion matrices + 1 domain-accuracy + 2 adapted variants x 2 layers t-SNE
    assert len(images) == page.count("<img ") == len(report.figures) == 9
    for data, _ in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", page)
    assert len(captions) == 9
    assert sum(c.startswith("UAR on target test data against") for c in captions) == 1
    confusion = [c for c in captions if c.startswith("Confusion matrix of ")]
    assert len(confusion) == 3 and all(", k = 2: " in c for c in confusion)
    assert sum(c.startswith("Domain-classifier accuracy") for c in captions) == 1
    tsne = [c for c in captions if c.startswith("t-SNE of layer_")]
    assert len(tsne) == 4 and all("(source_only vs dann" in c for c in tsne)
    for heading in ("UAR against k", "Confusion matrices", "Domain-classifier accuracy"):
        assert f">{heading}</h3>" in page
    assert ">Representations (t-SNE)</h3>" in page
    assert "<h2>Against the baseline source_only (UAR)</h2>" in page
    assert not re.search(r"(src|href)=\"(?!data:|#)", page)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    assert (
        "Model selection used only labelled source data and the k labelled target examples; "
        "never target test data." in page
    )
    assert "synthetic corpus" in page
    if importlib.util.find_spec("umap") is None:
        assert "UMAP skipped: umap-learn is not installed" in page


def test_model_selection_notes():
    assert model_selection_note("cross_domain") == (
        "Model selection used only a source development split."
    )
    assert model_selection_note("loso") == model_selection_note("reduced")
    with pytest.raises(ValueError, match="unknown protocol 'x'"):
        model_selection_note("x")


def make_loso_run(directory: Path) -> None:
    """A small regression run under leave-one-speaker-out: 2 folds x 2 trials, no artifacts."""
    lines = []
    for variant, shift in (("source_only", 0.0), ("mrd", 0.1)):
        for fold in ("spk1", "spk2"):
            for trial in range(2):
                ccc = 0.3 + shift + 0.01 * trial + 0.02 * (fold == "spk2")
                lines.append(
                    {
                        "key": f"{variant}{fold}{trial}",
                        "status": "ok",
                        "method": variant,
                        "variant": variant,
                        "pair": "iemocap->improv",
                        "protocol": "loso",
                        "fold": fold,
                        "trial": trial,
                        "task": "regression",
                        "metrics": {"ccc": ccc, "pcc": ccc + 0.05, "rmse": 0.5 - ccc / 2},
                        "confusion": None,
                        "history": [],
                        "embeddings": None,
                    }
                )
    (directory / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (directory / "config.yaml").write_text(
        "name: reg\nbaseline: source_only\ntask: regression\nprotocol: {name: loso}\n"
    )


def test_regression_loso_run_without_artifacts(tmp_path):
    make_loso_run(tmp_path)
    report = write_experiment_report(tmp_path, tmp_path / "out")
    row = report.table.iloc[1]
    assert (row["variant"], row["n_trials"], row["n_matched"]) == ("mrd", 4, 4)
    assert row["ccc_diff"] == pytest.approx(0.1)
    assert report.figures == {}
    page = report.html.read_text()
    assert "Model selection used only the training folds." in page
    assert "No trial failed." in page and page.count("<img ") == 0


def test_run_where_every_trial_failed(tmp_path):
    failed = {
        "key": "x",
        "status": "error",
        "error": "ValueError: bad k",
        "method": "dann",
        "variant": "dann",
        "pair": "a->b",
        "trial": 0,
        "protocol": "split_10_40_50",
    }
    (tmp_path / "results.jsonl").write_text(json.dumps(failed) + "\n")
    report = write_experiment_report(tmp_path)
    assert report.table.empty and report.failures["error"].tolist() == ["ValueError: bad k"]
    page = report.html.read_text()
    assert "Every trial failed" in page and "ValueError: bad k" in page
    assert "Model selection used only the 40% labelled target development split." in page


def test_read_run_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="results.jsonl does not exist"):
        read_run(tmp_path)
    (tmp_path / "results.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="is empty; no trial has finished yet"):
        read_run(tmp_path)
    (tmp_path / "results.jsonl").write_text('{"key": "a", "status": "ok"}\n{broken\n')
    with pytest.raises(ValueError, match="line 1: trial a lacks"):
        read_run(tmp_path)
    (tmp_path / "results.jsonl").write_text('{"key": "a", "status": "done"}\n')
    with pytest.raises(ValueError, match="neither 'ok' nor 'error'"):
        read_run(tmp_path)
    (tmp_path / "results.jsonl").write_text("[1]\n")  # skipped with a warning (runfolder)
    with pytest.raises(ValueError, match="is empty; no trial has finished yet"):
        read_run(tmp_path)


def test_failures_table_without_error_text():
    table = failures_table([{"key": "k1", "variant": "v", "pair": "p", "trial": 0, "error": None}])
    assert table["error"].tolist() == ["(no error text recorded)"]


def test_cli_report(capsys, tmp_path):
    directory = tmp_path / "run"
    directory.mkdir()
    make_loso_run(directory)
    out = tmp_path / "cli-report"
    assert main(["report", str(directory), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| pair | variant | n_trials | ccc |" in printed
    assert str(out / "report.html") in printed and (out / "report.html").is_file()
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "results.jsonl does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "results.jsonl").write_text("")
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "is empty" in capsys.readouterr().err


# --- figures and embeddings ---------------------------------------------------------------


def test_new_figures_are_pngs_and_check_input(tmp_path):
    curve = metric_curve_figure({"a": {2: [0.5, 0.6], 4: [0.7]}}, tmp_path / "c.png")
    assert curve.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="curves is empty"):
        metric_curve_figure({}, tmp_path / "e.png")
    with pytest.raises(ValueError, match="no values at x=2"):
        metric_curve_figure({"a": {2: []}}, tmp_path / "e.png")
    with pytest.raises(ValueError, match="domain_acc"):
        domain_accuracy_figure({"source_only": [[{"epoch": 0, "loss": 1.0}]]}, tmp_path / "d.png")
    rng = np.random.default_rng(0)
    numeric = (rng.normal(size=(10, 2)), [0, 1] * 5, rng.uniform(-1, 1, size=10))
    scatter = embedding_scatter_figure({"mrd": numeric}, tmp_path / "s.png", projection="UMAP")
    assert scatter.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="points must be"):
        embedding_scatter_figure({"m": (np.zeros((3, 3)), [0] * 3, [1] * 3)}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="do not index domain_names"):
        embedding_scatter_figure({"m": (np.zeros((3, 2)), [0, 1, 2], [1] * 3)}, tmp_path / "x.png")


def test_embeddings_load_and_project(tmp_path):
    np.savez(tmp_path / "bad.npz", layer_0=np.zeros((3, 2)), domain=np.zeros(4), label=np.zeros(4))
    with pytest.raises(ValueError, match="layer_0 has shape"):
        load_embeddings(tmp_path / "bad.npz")
    np.savez(tmp_path / "nolayer.npz", domain=np.zeros(4), label=np.zeros(4))
    with pytest.raises(ValueError, match="at least one 'layer_<i>'"):
        load_embeddings(tmp_path / "nolayer.npz")
    with pytest.raises(FileNotFoundError):
        load_embeddings(tmp_path / "none.npz")
    assert project(np.random.default_rng(0).normal(size=(5, 3))).shape == (5, 2)
    with pytest.raises(ValueError, match="between 3 and 400 points"):
        project(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="unknown projection 'pca'"):
        project(np.zeros((5, 3)), "pca")
    if importlib.util.find_spec("umap") is None:
        with pytest.raises(ValueError, match="pip install 'emoshift\\[umap\\]'"):
            project(np.zeros((5, 3)), "umap")


# --- headless Chromium ---------------------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not on PATH (apt-get install chromium); the HTML is checked above",
)
def test_report_renders_in_headless_chromium(run, tmp_path):
    directory, _, report = run
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "screenshot_report.py"),
            str(report.html),
            "--png",
            str(tmp_path / "report.png"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 of 9 images have a PNG data URI" in done.stdout
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG")
