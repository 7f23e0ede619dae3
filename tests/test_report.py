"""Report: statistics against scipy, tables, PNG figures and the self-contained HTML page."""

from __future__ import annotations

import base64
import doctest
import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import emoshift.report
import emoshift.report.experiment
import emoshift.report.figures
import emoshift.report.html
import emoshift.report.stats
import emoshift.report.tables
import emoshift.report.trial_tables
from emoshift.report import (
    compare_to_baseline,
    confusion_matrix_figure,
    format_table,
    loss_curve_figure,
    paired_test,
    results_table,
    summarise,
    to_markdown,
    write_report,
    write_tables,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def trial_results(n_trials: int = 5) -> list[dict]:
    rng = np.random.default_rng(0)
    results = []
    for method, shift in (("source-only", 0.0), ("dann", 0.05), ("coral", 0.03)):
        for trial in range(n_trials):
            uar = 0.5 + shift + rng.normal(scale=0.02)
            results.append(
                {
                    "method": method,
                    "trial": trial,
                    "seed": 100 + trial,
                    "uar": uar,
                    "wa": uar + 0.01,
                }
            )
    return results


# --- stats -------------------------------------------------------------------------------


def test_summarise_matches_numpy_with_ddof_1():
    values = [0.61, 0.58, 0.66, 0.63]
    assert summarise(values) == {
        "mean": pytest.approx(np.mean(values)),
        "std": pytest.approx(np.std(values, ddof=1)),
        "n": 4,
    }
    single = summarise([0.5])
    assert single["mean"] == 0.5 and np.isnan(single["std"])
    assert np.isnan(summarise([0.5, np.nan])["mean"])
    with pytest.raises(ValueError, match="non-empty"):
        summarise([])


def test_paired_test_auto_uses_wilcoxon_from_six_pairs():
    rng = np.random.default_rng(1)
    a = rng.normal(0.6, 0.03, size=10)
    b = a - rng.normal(0.02, 0.02, size=10)
    result = paired_test(a, b)
    expected = stats.wilcoxon(a, b)
    assert result["test"] == "wilcoxon" and result["n"] == 10
    assert result["p_value"] == pytest.approx(expected.pvalue)
    assert result["statistic"] == pytest.approx(expected.statistic)
    assert result["mean_difference"] == pytest.approx(np.mean(a - b))
    assert result["significant"] == (expected.pvalue < 0.05)


def test_paired_test_auto_uses_ttest_below_six_pairs():
    a, b = [0.61, 0.64, 0.58, 0.66, 0.60], [0.55, 0.60, 0.56, 0.61, 0.59]
    result = paired_test(a, b, alpha=0.01)
    expected = stats.ttest_rel(a, b)
    assert result["test"] == "ttest"
    assert result["p_value"] == pytest.approx(expected.pvalue)
    assert result["statistic"] == pytest.approx(expected.statistic)
    assert result["alpha"] == 0.01
    assert result["significant"] == (expected.pvalue < 0.01)


def test_paired_test_caller_chooses():
    a = np.linspace(0.5, 0.7, 8)
    b = a - np.linspace(0.0, 0.04, 8) ** 2
    assert paired_test(a, b, test="ttest")["p_value"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert paired_test(a[:4], b[:4], test="wilcoxon")["p_value"] == pytest.approx(
        stats.wilcoxon(a[:4], b[:4]).pvalue
    )


@pytest.mark.parametrize("test", ["auto", "wilcoxon", "ttest"])
def test_paired_test_all_zero_differences(test):
    values = [0.5, 0.6, 0.7, 0.55, 0.65, 0.62, 0.58]
    result = paired_test(values, values, test=test)
    assert result["p_value"] == 1.0 and result["significant"] is False
    assert result["mean_difference"] == 0.0


def test_paired_test_constant_nonzero_difference_ttest():
    result = paired_test([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert result["statistic"] == np.inf and result["p_value"] == 0.0 and result["significant"]


def test_paired_test_errors():
    with pytest.raises(ValueError, match="a has 3 trials but b has 2"):
        paired_test([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        paired_test([1], [2])
    with pytest.raises(ValueError, match="test='sign'"):
        paired_test([1, 2], [2, 3], test="sign")
    with pytest.raises(
        ValueError, match=r"b has NaN or infinite values at trial position\(s\) \[1\]"
    ):
        paired_test([1, 2], [2, np.nan])


# --- tables ------------------------------------------------------------------------------


def test_results_table_mean_std_per_method():
    results = trial_results()
    table = results_table(results)
    assert list(table.columns) == ["method", "n_trials", "uar_mean", "uar_std", "wa_mean", "wa_std"]
    assert table["method"].tolist() == ["source-only", "dann", "coral"]  # order of appearance
    dann = [r["uar"] for r in results if r["method"] == "dann"]
    row = table.set_index("method").loc["dann"]
    assert row["uar_mean"] == pytest.approx(np.mean(dann))
    assert row["uar_std"] == pytest.approx(np.std(dann, ddof=1))
    assert row["n_trials"] == 5


def test_results_table_groups_and_explicit_metrics():
    results = [dict(r, k=k) for r in trial_results(3) for k in (2, 4)]
    table = results_table(results, ["uar"], by=["method", "k"])
    assert len(table) == 6 and list(table.columns[:3]) == ["method", "k", "n_trials"]
    assert "seed_mean" not in table and "wa_mean" not in table


def test_results_table_errors():
    results = trial_results(2)
    with pytest.raises(ValueError, match="trial"):
        results_table(results + [dict(results[0])])
    with pytest.raises(ValueError, match="has no 'wa'"):
        results_table(results[:1] + [{"method": "x", "trial": 0, "uar": 0.5}])
    with pytest.raises(ValueError, match="no metric found"):
        results_table([{"method": "x", "trial": 0, "score": 1.0}])
    with pytest.raises(ValueError, match="empty"):
        results_table([])


def test_markdown_table_lines():
    table = results_table(trial_results())
    lines = to_markdown(table).splitlines()
    assert lines[0] == "| method | n_trials | uar | wa |"
    assert lines[1] == "| --- | ---: | ---: | ---: |"
    assert len(lines) == 2 + 3
    assert re.fullmatch(
        r"\| source-only \| 5 \| 0\.\d{3} ± 0\.\d{3} \| 0\.\d{3} ± 0\.\d{3} \|", lines[2]
    )
    escaped = to_markdown(pd.DataFrame({"method": ["a|b"], "uar_mean": [1.0], "uar_std": [np.nan]}))
    assert escaped.splitlines()[2] == "| a\\|b | 1.000 |"


def test_write_tables_csv_json_roundtrip(tmp_path):
    table = results_table(trial_results())
    paths = write_tables(table, tmp_path / "out")
    assert set(paths) == {"md", "csv", "json"}
    pd.testing.assert_frame_equal(pd.read_csv(paths["csv"]), table)
    records = json.loads(paths["json"].read_text())
    assert records[1]["method"] == "dann"
    assert records[1]["uar_mean"] == pytest.approx(table["uar_mean"][1])
    assert paths["md"].read_text().startswith("| method |")


def test_compare_to_baseline_against_scipy():
    results = trial_results(7)
    comparison = compare_to_baseline(results, "source-only", "uar")
    assert comparison["method"].tolist() == ["dann", "coral"]
    base = [r["uar"] for r in results if r["method"] == "source-only"]
    dann = [r["uar"] for r in results if r["method"] == "dann"]
    row = comparison.iloc[0]
    assert row["test"] == "wilcoxon"
    assert row["p_value"] == pytest.approx(stats.wilcoxon(dann, base).pvalue)
    assert row["mean_difference"] == pytest.approx(np.mean(np.subtract(dann, base)))
    with pytest.raises(ValueError, match="baseline 'none' has no results"):
        compare_to_baseline(results, "none", "uar")
    partial = [r for r in results if r["method"] != "coral" or r["trial"] == 0]
    with pytest.raises(ValueError, match="'coral' shares 1 trial"):
        compare_to_baseline(partial, "source-only", "uar")


def test_format_table_passes_other_columns_through():
    frame = pd.DataFrame(
        {
            "method": ["a", "b"],
            "p_value": [0.01234, 0.00012],
            "significant": [True, True],
            "n": [4, 5],
        }
    )
    assert format_table(frame, digits=2).to_dict("records") == [
        {"method": "a", "p_value": "0.01", "significant": "True", "n": "4"},
        {"method": "b", "p_value": "1.2e-04", "significant": "True", "n": "5"},
    ]
    assert to_markdown(frame).splitlines()[1] == "| --- | ---: | --- | ---: |"


# --- figures -----------------------------------------------------------------------------


def test_confusion_matrix_figure_is_png(tmp_path):
    path = confusion_matrix_figure(
        [[8, 1, 1], [2, 6, 2], [0, 0, 0]], ["anger", "neutral", "sadness"], tmp_path / "a/cm.png"
    )
    assert path == tmp_path / "a/cm.png"
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_confusion_matrix_figure_errors(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix_figure([[1, 2], [3, 4]], ["a", "b", "c"], tmp_path / "cm.png")
    with pytest.raises(ValueError, match="non-negative counts"):
        confusion_matrix_figure([[0.5, 0.5], [0, 1]], ["a", "b"], tmp_path / "cm.png")
    with pytest.raises(ValueError, match=r"\.png"):
        confusion_matrix_figure([[1, 0], [0, 1]], ["a", "b"], tmp_path / "cm.pdf")


def test_loss_curve_figure_is_png(tmp_path):
    history = [
        {
            "epoch": e,
            "loss": 1 / e,
            "dev_loss": 1.1 / e,
            "domain_loss": 0.69,
            "domain_acc": 0.5 + 0.02 * e,
            "stage": "adapt",
        }
        for e in range(1, 8)
    ]
    del history[3]["dev_loss"]  # a gap
    path = loss_curve_figure(history, tmp_path / "loss.png", title="DANN")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    only_losses = loss_curve_figure([{"loss": 1.0}, {"loss": 0.5}], tmp_path / "l2.png")
    assert only_losses.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="no numeric values"):
        loss_curve_figure([{"epoch": 1, "stage": "a"}], tmp_path / "l3.png")
    with pytest.raises(ValueError, match="empty"):
        loss_curve_figure([], tmp_path / "l4.png")


# --- HTML report -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("report")
    results = trial_results()
    table = results_table(results)
    cm = confusion_matrix_figure([[5, 1], [2, 4]], ["anger", "neutral"], tmp_path / "fig/cm.png")
    curve = loss_curve_figure(
        [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.6}], tmp_path / "fig/l.png"
    )
    paths = write_report(
        tmp_path / "report",
        "Cross-corpus <SER> & adaptation",
        table,
        {"Confusion matrix (DANN)": cm, "Training loss": curve},
        ["Data are synthetic.", 'p < 0.05 & "quoted"'],
        tables={"Against source-only": compare_to_baseline(results, "source-only", "uar")},
    )
    return paths, table


def test_report_files_written(report):
    (markdown_path, html_path), _ = report
    assert markdown_path.name == "report.md" and markdown_path.is_file()
    assert html_path.name == "report.html" and html_path.parent == markdown_path.parent


def test_report_markdown(report):
    (markdown_path, _), _ = report
    text = markdown_path.read_text()
    assert text.startswith("# Cross-corpus <SER> & adaptation\n")
    assert "| method | n_trials | uar | wa |" in text
    assert "| --- | ---: | ---: | ---: |" in text
    assert "![Confusion matrix (DANN)](<../fig/cm.png>)" in text
    assert "## Against source-only" in text
    assert "- Data are synthetic." in text


def test_report_html_is_self_contained_and_escaped(report):
    (_, html_path), table = report
    page = html_path.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Cross-corpus &lt;SER&gt; &amp; adaptation</title>" in page
    assert "<SER>" not in page
    assert "<li>p &lt; 0.05 &amp; &quot;quoted&quot;</li>" in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2
    assert base64.b64decode(images[0])[:8] == PNG_SIGNATURE
    assert "<table>" in page and '<th class="num">uar</th>' in page
    dann = table.set_index("method").loc["dann"]
    assert f"{dann['uar_mean']:.3f} ± {dann['uar_std']:.3f}" in page
    # no external resources: every src/href is a data URI, no scripts, links or imports
    for attribute in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page):
        assert attribute.startswith("data:")
    assert not re.search(r"https?://|<script|<link|@import|url\(", page)


def test_report_figure_errors(tmp_path):
    table = pd.DataFrame({"method": ["a"], "uar_mean": [0.5], "uar_std": [0.1]})
    with pytest.raises(FileNotFoundError, match="figure 'missing'"):
        write_report(tmp_path, "t", table, {"missing": tmp_path / "nope.png"})
    (tmp_path / "fake.png").write_text("not a png")
    with pytest.raises(ValueError, match="figure 'fake'.*not a PNG"):
        write_report(tmp_path, "t", table, {"fake": tmp_path / "fake.png"})


@pytest.mark.parametrize(
    "module",
    [
        emoshift.report,
        emoshift.report.stats,
        emoshift.report.tables,
        emoshift.report.figures,
        emoshift.report.html,
        emoshift.report.trial_tables,
        emoshift.report.experiment,
    ],
)
def test_docstring_examples(module):
    failures, _ = doctest.testmod(module)
    assert failures == 0
