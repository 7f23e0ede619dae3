"""BAVED: arousal levels as a dimension (native 0-2 and [-1, 1]) and as label classes."""

from __future__ import annotations

import warnings

import pytest
from fixtures_corpora import SHARED_DATA, make_baved, make_emodb, make_urdu

from emoshift.data.labels import apply_label_space
from emoshift.data.loaders import CorpusFormatError, CorpusWarning, LoadReport, load_corpus
from emoshift.data.table import validate_table


def _by_stem(table):
    return table.set_index(table["file"].map(lambda f: f.rsplit("/", 1)[-1][:-4]))


def test_baved_decodes_speaker_gender_age_word_and_level(tmp_path):
    table = _by_stem(load_corpus(make_baved(tmp_path), "baved"))
    assert len(table) == 6
    row = table.loc["10-f-20-3-2-1"]
    assert (row["speaker"], row["gender"], row["age"], row["word"]) == ("baved_10", "female", 20, 3)
    assert (row["language"], row["elicitation"], row["record"]) == ("ar", "acted", 1)
    assert row["text"] == "الفيلم"
    assert table.loc["49-m-23-6-1-201", "word"] == 6  # the name wins over folder 0
    assert table["emotion"].isna().all()
    validate_table(table.reset_index(drop=True))


def test_baved_level_is_kept_native_normalised_and_as_a_class(tmp_path):
    table = _by_stem(load_corpus(make_baved(tmp_path), "baved"))
    levels = table.loc[["0-m-21-0-0-104", "0-m-21-0-1-105", "0-m-21-0-2-106"]]
    assert levels["arousal_raw"].tolist() == [0.0, 1.0, 2.0]
    assert levels["arousal"].tolist() == [-1.0, 0.0, 1.0]
    assert levels["arousal_level"].tolist() == ["low", "normal", "high"]
    assert table["valence"].isna().all() and table["dominance"].isna().all()


def test_baved_label_spaces_three_levels_and_binary_arousal(tmp_path):
    table = load_corpus(make_baved(tmp_path), "baved")
    three, report = apply_label_space(table, "arousal_level")
    assert report.labels == ("low", "normal", "high")
    assert report.counts == {"low": 1, "normal": 3, "high": 2}
    binary, report = apply_label_space(table, "binary_arousal")
    assert report.counts == {"low": 1, "high": 2}
    assert report.dropped == {"arousal_level normal": 3}
    assert (binary["label"] == binary["arousal_level"]).all()


def test_binary_arousal_pairs_baved_with_emodb_and_urdu(tmp_path):
    emodb = load_corpus(make_emodb(tmp_path), "emodb")  # anger, happiness, sadness, neutral
    urdu = load_corpus(make_urdu(tmp_path), "urdu")
    for table, low, high in ((emodb, 1, 2), (urdu, 1, 3)):
        labelled, report = apply_label_space(table, "binary_arousal")
        assert report.counts == {"low": low, "high": high}
        assert set(labelled.loc[labelled["label"] == "low", "emotion"]) == {"sadness"}
        assert report.dropped == {"neutral": 1}


@pytest.mark.bad_input
def test_baved_names_outside_the_scheme_are_named(tmp_path):
    root = make_baved(tmp_path, names=("3-m-20-2-3-9.wav", "3-m-20-7-1-9.wav", "x-y.wav"))
    report = LoadReport()
    with pytest.warns(CorpusWarning) as caught:
        table = load_corpus(root, "baved", report=report)
    assert len(table) == 6
    message = str(caught[0].message)
    assert "3-m-20-2-3-9.wav: level 3 not in BAVED's scheme 0 1 2" in message
    assert "3-m-20-7-1-9.wav: word 7 not in BAVED's scheme 0 1 2 3 4 5 6" in message
    assert "x-y.wav: name does not follow BAVED's scheme; expected <speaker>-<m|f>-" in message
    assert len(report.unrecognised) == 3
    with pytest.raises(CorpusFormatError, match="baved: x-y.wav: name does not follow"):
        load_corpus(root, "baved", strict=True)


@pytest.mark.shared_data
def test_baved_matches_its_documented_counts():
    path = SHARED_DATA / "baved"
    if not path.is_dir():
        pytest.skip(f"real corpus {path} absent; set EMOSHIFT_SHARED_DATA to its folder")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = load_corpus(path, "baved")
    assert len(table) == 1935
    assert table["speaker"].nunique() == 60
    assert table["arousal_level"].value_counts().to_dict() == {
        "high": 678,
        "normal": 672,
        "low": 585,
    }
    assert table.groupby("arousal_level")["arousal_raw"].first().to_dict() == {
        "high": 2.0,
        "low": 0.0,
        "normal": 1.0,
    }
    assert set(table["sample_rate"]) == {16000}
    assert table["word"].value_counts().sort_index().index.tolist() == list(range(7))
    assert 0.5 < table["duration"].min() and table["duration"].max() < 6.0
    _, report = apply_label_space(table, "binary_arousal")
    assert report.counts == {"low": 585, "high": 678}
