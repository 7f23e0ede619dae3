"""``emoshift evaluate``: a saved model scored on labelled audio (synthetic corpus)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from emoshift.bundle import load
from emoshift.bundle.evaluate import evaluate_model, reference_labels, score_predictions
from emoshift.cli import main
from emoshift.metrics import confusion_matrix, score

CONFIG = {
    "name": "evaluate-test",
    "corpora": {
        "synthetic": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}
    },
    "features": {"set": "egemaps", "domain": "elicitation", "jobs": 1, "cache_dir": "cache"},
    "labels": {"space": None, "column": "emotion"},
    "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
    "methods": {"source_only": {"max_epochs": 3, "hidden_sizes": [16]}},
    "baseline": None,
}
CLASSES = ["anger", "happiness", "neutral", "sadness"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("evaluate")
    (folder / "exp.yaml").write_text(yaml.safe_dump(CONFIG))
    code = main(
        [
            "train",
            str(folder / "exp.yaml"),
            "--method",
            "source_only",
            "--out",
            str(folder / "model"),
        ]
    )
    assert code == 0
    return folder


def _target_table(folder: Path) -> pd.DataFrame:
    table = pd.read_parquet(folder / "corpus" / "corpus.parquet")
    return table[table["elicitation"] == "spontaneous"].reset_index(drop=True)


def test_evaluate_scores_a_labelled_table(trained: Path, tmp_path: Path, capsys) -> None:
    table = _target_table(trained)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x01garbage" * 50)
    extra = pd.DataFrame(
        {
            "file": [str(corrupt), table["file"][0].replace(".wav", "-copy.wav")],
            "emotion": ["anger", None],
        }
    )
    shutil.copy(table["file"][0], extra["file"][1])
    pd.concat([table, extra]).to_csv(tmp_path / "labelled.csv", index=False)
    out = tmp_path / "scores"
    capsys.readouterr()
    argv = ["evaluate", str(trained / "model"), str(tmp_path / "labelled.csv"), "--out", str(out)]
    assert main([*argv, "--jobs", "1", "--cache-dir", str(trained / "cache")]) == 0
    printed = capsys.readouterr().out

    predictions = pd.read_csv(out / "predictions.csv", keep_default_na=False)
    assert list(predictions.columns) == [
        "file",
        "true",
        "prediction",
        *[f"p_{c}" for c in CLASSES],
        "error",
    ]
    assert len(predictions) == len(table) + 1  # the unlabelled copy is left out
    assert "left out 1 row(s) without 'emotion'" in printed
    failed = predictions[predictions["error"] != ""]
    assert failed["file"].tolist() == [str(corrupt)]
    scored = predictions[predictions["error"] == ""]
    assert scored["true"].tolist() == table["emotion"].tolist()

    model = load(trained / "model")
    expected = model.predict(list(table["file"]), cache_dir=trained / "cache", n_jobs=1)
    assert scored["prediction"].tolist() == expected["prediction"].tolist()
    metrics = score(table["emotion"], expected["prediction"], "classification", labels=CLASSES)
    written = pd.read_csv(out / "metrics.csv").set_index("metric")["value"]
    for name, value in metrics.items():
        assert written[name] == pytest.approx(value)
        assert f"  {name}: {value:.4f}" in printed

    counts = confusion_matrix(table["emotion"], expected["prediction"], labels=CLASSES)
    confusion = pd.read_csv(out / "confusion.csv", index_col=0)
    np.testing.assert_array_equal(confusion.to_numpy(), counts)
    per_class = pd.read_csv(out / "per_class.csv")
    np.testing.assert_allclose(per_class["recall"], np.diag(counts) / counts.sum(axis=1))
    assert per_class["recall"].mean() == pytest.approx(metrics["uar"])
    assert "confusion (rows: true, columns: predicted)" in printed


def test_evaluate_maps_labels_into_the_models_label_space(trained: Path, tmp_path: Path) -> None:
    """A model trained in ``four_class`` reads references through the same mapping: a
    clip labelled ``boredom`` has no place there and is left out."""
    model = load(trained / "model")
    model.labels["space"] = "four_class"
    table = _target_table(trained)
    table.loc[0, "emotion"] = "boredom"
    table.to_parquet(tmp_path / "labelled.parquet")
    result = evaluate_model(
        model, [tmp_path / "labelled.parquet"], cache_dir=trained / "cache", n_jobs=1
    )
    assert len(result.predictions) == len(table) - 1
    assert result.notes == ["left out 1 row(s) with no label in four_class"]
    assert int(result.per_class["support"].sum()) == len(table) - 1


def test_evaluate_refuses_unlabelled_inputs(trained: Path, tmp_path: Path, capsys) -> None:
    table = _target_table(trained)[["file"]]
    table.to_csv(tmp_path / "files.csv", index=False)
    argv = ["evaluate", str(trained / "model"), str(tmp_path / "files.csv"), "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "left out 24 row(s) without 'emotion'" in capsys.readouterr().err
    folder = tmp_path / "audio"
    folder.mkdir()
    assert main(["evaluate", str(trained / "model"), str(folder), "--out", str(tmp_path)]) == 2
    assert "labelled corpus tables" in capsys.readouterr().err


def test_regression_references_are_put_on_the_training_scale() -> None:
    """A model trained on ``scale: [1, 5]`` is scored against references on that scale
    (the table's dimensions are the normalised [-1, 1] copies); CCC, PCC, RMSE per
    dimension and their mean."""
    model = SimpleNamespace(
        task="regression",
        labels={"dimensions": ["arousal", "valence"]},
        training={"config": {"labels": {"scale": [1.0, 5.0]}}},
    )
    table = pd.DataFrame(
        {"file": list("abcd"), "arousal": [-1.0, 0.0, 1.0, np.nan], "valence": [0.5, -0.5, 0, 1]}
    )
    reference, notes = reference_labels(model, table)
    assert reference["true_arousal"].tolist() == [1.0, 3.0, 5.0]
    assert reference["true_valence"].tolist() == [4.0, 2.0, 3.0]
    assert notes == ["left out 1 row(s) without every dimension scored"]
    predicted = reference.assign(arousal=[1.5, 3.0, 4.5], valence=[4.0, 2.0, 3.0], error="")
    result = score_predictions(predicted, "regression")
    assert result.metrics["rmse_valence"] == 0.0
    assert result.metrics["rmse_arousal"] == pytest.approx(np.sqrt((0.25 + 0 + 0.25) / 3))
    assert result.metrics["ccc"] == pytest.approx(
        (result.metrics["ccc_arousal"] + result.metrics["ccc_valence"]) / 2
    )
    assert result.confusion is None and result.per_class is None
