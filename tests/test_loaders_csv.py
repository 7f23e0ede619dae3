"""The generic CSV/TSV loader: named columns, relative paths, label map, dimensions."""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures_corpora import make_csv

from emoshift.data.loaders import CorpusFormatError, CorpusWarning, LoadReport, load_corpus

COLUMNS = {"file": "path", "emotion": "label", "speaker": "spk", "arousal": "act"}
LABELS = {"ang": "anger", "hap": "happiness", "neu": "neutral"}


def test_csv_maps_columns_labels_and_resolves_relative_paths(tmp_path):
    meta = make_csv(tmp_path)
    table = load_corpus(
        meta, "csv", columns=COLUMNS, label_map=LABELS, corpus="mine", dimension_range=(1, 5)
    )
    clips = meta.parent.resolve() / "clips"
    assert table["file"].tolist() == [str(clips / name) for name in ("a.wav", "b.wav", "c.wav")]
    assert table["emotion"].tolist() == ["anger", "happiness", "neutral"]
    assert table["emotion_raw"].tolist() == ["ang", "hap", "neu"]
    assert table["speaker"].tolist() == ["mine_p1", "mine_p1", "mine_p2"]
    assert set(table["corpus"]) == {"mine"}
    assert table["arousal_raw"].tolist() == [5.0, 3.0, 1.0]
    assert table["arousal"].tolist() == [1.0, 0.0, -1.0]
    assert table["note"].tolist() == ["loud", "", "quiet"]
    assert table["duration"].round(3).eq(0.1).all()


def test_csv_labels_outside_the_map_are_skipped_with_a_warning_naming_the_file(tmp_path):
    meta = make_csv(tmp_path)
    report = LoadReport()
    with pytest.warns(CorpusWarning, match=r"meta.tsv line 3 \(b.wav\): label 'hap'"):
        table = load_corpus(meta, "csv", columns=COLUMNS, label_map={"ang": "anger"}, report=report)
    assert len(table) == 1 and table.loc[0, "emotion"] == "anger"
    assert table.loc[0, "corpus"] == "meta" and pd.isna(table.loc[0, "arousal_raw"])
    assert table.loc[0, "arousal"] == 5.0
    assert len(report.unrecognised) == 2
    with pytest.raises(CorpusFormatError, match="label 'hap' is not a normalised emotion"):
        load_corpus(meta, "csv", columns=COLUMNS, label_map={"ang": "anger"}, strict=True)


def test_csv_errors_name_the_missing_file_and_columns(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.csv does not exist"):
        load_corpus(tmp_path / "nowhere.csv", "csv")
    meta = make_csv(tmp_path)
    with pytest.raises(ValueError, match=r"column\(s\) \['file'\] not found; the file has"):
        load_corpus(meta, "csv")
    with pytest.raises(ValueError, match="not corpus-table columns"):
        load_corpus(meta, "csv", columns={"file": "path", "mood": "label"})


def test_csv_reports_listed_files_that_do_not_exist(tmp_path):
    meta = make_csv(tmp_path)
    (meta.parent / "clips" / "b.wav").unlink()
    report = LoadReport()
    with pytest.warns(CorpusWarning, match="label entries without an audio file"):
        table = load_corpus(meta, "csv", columns=COLUMNS, label_map=LABELS, report=report)
    assert len(table) == 2
    assert report.missing_audio[0].startswith("meta.tsv line 3:")
