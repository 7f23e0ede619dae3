"""Projections coloured by a corpus-table column (MRD paper, Sec. 3.2 / Fig. 2: t-SNE of
the encoded space per MSP-IMPROV session): a run stores each embedded row's metadata,
and ``emoshift report --colour-by COLUMN`` draws each projection coloured by it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_report_paper_tables import make_run, projection  # noqa: F401 (fixture)

from emoshift.cli.report import register
from emoshift.experiment.data import ExperimentData
from emoshift.experiment.execute import _embeddings
from emoshift.experiment.protocols import make_split
from emoshift.methods.baselines import SourceOnly
from emoshift.report import experiment_figures
from emoshift.report.embeddings import load_embeddings
from emoshift.report.experiment import write_experiment_report
from emoshift.report.figure_scope import FigureScope
from emoshift.report.projection_cache import sample_rows


def test_a_trial_stores_the_metadata_of_each_embedded_row(tmp_path):
    n = 40
    table = pd.DataFrame(
        {
            "file": [f"f{i}.wav" for i in range(n)],
            "domain": ["s"] * 20 + ["t"] * 20,
            "speaker": [f"spk{i // 4}" for i in range(n)],
            "session": [f"Session{i % 3 + 1}" for i in range(n)],
            "arousal": np.linspace(-1, 1, n),  # a score, not metadata
        }
    )
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 5)).astype("float32")
    y = np.where(X[:, 0] > 0, "high", "low")
    data = ExperimentData(table, X, y)
    split = make_split(data, "domain == 's'", "domain == 't'", "cross_domain", trial=0, seed=0)
    model = SourceOnly(hidden_sizes=(4,), max_epochs=1, random_state=0)
    model.fit(split.X_source, split.y_source)
    arrays = _embeddings(model, split, seed=0, table=table)
    np.savez(tmp_path / "a.npz", **arrays)
    stored = load_embeddings(tmp_path / "a.npz")
    assert sorted(stored.metadata) == ["domain", "session", "speaker"]
    # each stored row's session is the table's for the row whose features were embedded
    rows = np.r_[split.source_rows, split.test_rows]
    features = np.r_[split.X_source, split.X_test]
    layer = stored.layers["layer_0"]
    for i in range(len(layer)):
        match = np.flatnonzero(np.all(np.isclose(model.transform(features), layer[i]), axis=1))
        assert table["session"].iloc[rows[match[0]]] == stored.metadata["session"][i]
    assert "file" not in stored.metadata and "arousal" not in stored.metadata


def _add_sessions(directory):
    sessions = {}
    for artifact in (directory / "artifacts").glob("*.npz"):
        with np.load(artifact) as stored:
            arrays = dict(stored)
        arrays["meta_session"] = np.array([f"S{i % 2 + 5}" for i in range(len(arrays["domain"]))])
        np.savez(artifact, **arrays)
        sessions[artifact.name] = arrays["meta_session"]
    return sessions


def test_the_report_draws_each_projection_coloured_by_the_column(
    tmp_path,
    projection,  # noqa: F811
    monkeypatch,
):
    make_run(tmp_path)
    sessions = _add_sessions(tmp_path)
    drawn = []
    original = experiment_figures.embedding_scatter_figure

    def recording(models, path, **kwargs):
        drawn.append((kwargs["label_name"], {k: v and list(v[2]) for k, v in models.items()}))
        return original(models, path, **kwargs)

    monkeypatch.setattr(experiment_figures, "embedding_scatter_figure", recording)
    report = write_experiment_report(tmp_path, scope=FigureScope(points=50, colour_by=("session",)))
    coloured = [c for c in report.figures if c.endswith("and session (bottom)")]
    assert len(coloured) == 2  # each adapted variant beside the baseline, one layer
    by_session = [models for name, models in drawn if name == "session"]
    rows = sample_rows(400, 50)
    assert by_session[0]["source_only"] == list(sessions["source_only-b.npz"][rows])
    # the label figures are drawn as before
    assert sum(name == "emotion" for name, _ in drawn) == 2


@pytest.mark.bad_input
def test_a_column_the_run_did_not_store_is_named(tmp_path, projection):  # noqa: F811
    make_run(tmp_path)
    _add_sessions(tmp_path)
    with pytest.raises(ValueError, match=r"--colour-by speaker: .* \['session'\]"):
        write_experiment_report(tmp_path, scope=FigureScope(colour_by=("speaker",)))


def test_the_cli_option_reaches_the_scope():
    import argparse

    from emoshift.cli.report import figure_scope

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["report", "run", "--colour-by", "session", "speaker"])
    assert figure_scope(args).colour_by == ("session", "speaker")
