"""Label spaces: mapping into shared classes, dropped rows counted per original label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emoshift.data.labels import (
    BINARY_VALENCE,
    FOUR_CLASS,
    LABEL_SPACES,
    apply_label_space,
    shared_categories,
)
from emoshift.data.table import make_table

EMOTIONS = ["anger", "calm", "excitement", "happiness", "boredom", "fear", None, "neutral"]


@pytest.fixture()
def table():
    return make_table(
        {
            "file": f"/c/{i}.wav",
            "corpus": "demo",
            "emotion": emotion,
            "arousal": [0.5, -0.5, 0.0, np.nan, 0.9, 0.2, -0.1, 0.01][i],
            "valence": [-0.8, 0.3, 0.6, 0.7, -0.2, -0.6, np.nan, 0.0][i],
        }
        for i, emotion in enumerate(EMOTIONS)
    )


def test_four_class_drops_and_counts_what_has_no_place(table):
    labelled, report = apply_label_space(table, "four_class")
    assert labelled["label"].tolist() == ["anger", "happiness", "neutral"]
    assert labelled["emotion"].tolist() == ["anger", "happiness", "neutral"]
    assert report.dropped == {
        "calm": 1,
        "excitement": 1,
        "boredom": 1,
        "fear": 1,
        "<missing>": 1,
    }
    assert report.kept == 3 and report.n_dropped == 5 and report.total == 8
    assert report.labels == FOUR_CLASS


def test_four_class_merges_calm_and_excitement_when_asked(table):
    labelled, report = apply_label_space(
        table, "four_class", calm="neutral", excitement="happiness"
    )
    assert labelled["label"].tolist() == ["anger", "neutral", "happiness", "happiness", "neutral"]
    assert report.counts == {"anger": 1, "happiness": 2, "neutral": 2}
    assert sorted(report.dropped) == ["<missing>", "boredom", "fear"]
    with pytest.raises(ValueError, match=r"calm='sadness' is not one of \('drop', 'neutral'\)"):
        apply_label_space(table, "four_class", calm="sadness")


def test_binary_valence_is_the_emodb_versus_aibo_split(table):
    labelled, report = apply_label_space(table, "binary_valence")
    assert dict(zip(labelled["emotion"], labelled["label"], strict=True)) == {
        "anger": "negative",
        "happiness": "positive",
        "boredom": "negative",
        "fear": "negative",
        "neutral": "positive",
    }
    assert sorted(report.dropped) == ["<missing>", "calm", "excitement"]
    assert set(BINARY_VALENCE.values()) == {"negative", "positive"}
    extended, _ = apply_label_space(table, "binary_valence", extra={"calm": "positive"})
    assert "calm" in set(extended["emotion"])


def test_binarised_dimensions_use_the_threshold_and_drop_missing_scores(table):
    arousal, report = apply_label_space(table, "binarised_arousal")
    assert arousal["label"].tolist() == ["high", "low", "low", "high", "high", "low", "high"]
    assert report.dropped == {"<missing> arousal": 1}
    valence, report = apply_label_space(table, "binarised_valence", threshold=0.5)
    assert valence["label"].tolist() == [
        "negative",
        "negative",
        "positive",
        "positive",
        "negative",
        "negative",
        "negative",
    ]
    assert report.labels == ("negative", "positive") and report.n_dropped == 1


def test_shared_categories_of_source_and_target(table):
    target = make_table(
        [{"file": "/t/1.wav", "emotion": e} for e in ("anger", "neutral", "sadness")]
    )
    assert shared_categories(table, target) == ("anger", "neutral")
    assert shared_categories(table, target, "union") == (
        "anger",
        "happiness",
        "sadness",
        "neutral",
        "fear",
        "boredom",
        "calm",
        "excitement",
    )
    labelled, report = apply_label_space(table, "shared", other=target)
    assert labelled["label"].tolist() == ["anger", "neutral"]
    assert report.n_dropped == 6
    _, union = apply_label_space(table, "shared", other=target, how="union")
    assert union.dropped == {"<missing>": 1}


def test_explicit_categories_and_the_printed_report(table):
    labelled, report = apply_label_space(table, "categories", keep=["fear", "anger"])
    assert labelled["label"].tolist() == ["anger", "fear"]
    text = str(report)
    assert text.splitlines()[0] == "label space categories: kept 2 of 8 rows in 2 of 2 classes"
    assert "dropped 6 row(s):" in text and "  <missing>" in text


def test_unknown_spaces_and_options_are_refused(table):
    with pytest.raises(ValueError, match="unknown label space 'seven'; known: four_class"):
        apply_label_space(table, "seven")
    with pytest.raises(ValueError, match=r"takes no option\(s\) \['threshold'\]"):
        apply_label_space(table, "four_class", threshold=0.2)
    with pytest.raises(ValueError, match="needs other="):
        apply_label_space(table, "shared")
    assert set(LABEL_SPACES) >= {"four_class", "binary_valence", "binarised_arousal"}


def test_the_input_table_is_left_unchanged(table):
    before = table.copy()
    labelled, _ = apply_label_space(table, "four_class")
    pd.testing.assert_frame_equal(table, before)
    assert "label" not in table and list(labelled.index) == [0, 1, 2]


def test_binary_arousal_maps_emotions_and_takes_extra_entries(table):
    labelled, report = apply_label_space(table, "binary_arousal")
    assert dict(zip(labelled["emotion"], labelled["label"], strict=True)) == {
        "anger": "high",
        "happiness": "high",
        "boredom": "low",
        "fear": "high",
    }
    assert report.labels == ("low", "high")
    extended, _ = apply_label_space(table, "binary_arousal", extra={"calm": "low"})
    assert extended.loc[extended["emotion"] == "calm", "label"].tolist() == ["low"]
    with pytest.raises(ValueError, match=r"extra\['calm'\]='medium' is not one of"):
        apply_label_space(table, "binary_arousal", extra={"calm": "medium"})


def test_class_columns_take_precedence_only_in_their_spaces():
    rows = [
        {"file": "/a.wav", "emotion": "neutral", "valence_class": "negative"},
        {"file": "/b.wav", "emotion": "sadness"},
        {"file": "/c.wav", "arousal_level": "normal"},
    ]
    table = make_table(rows)
    valence, _ = apply_label_space(table, "binary_valence")
    assert valence["label"].tolist() == ["negative", "negative"]
    four, _ = apply_label_space(table, "four_class")
    assert four["label"].tolist() == ["neutral", "sadness"]
    levels, report = apply_label_space(table, "arousal_level")
    assert levels["label"].tolist() == ["normal"]
    assert report.dropped == {"neutral": 1, "sadness": 1}


def test_arousal_levels_for_categorical_corpora_come_from_the_extra_map():
    rows = [
        {"file": "/a.wav", "emotion": "neutral"},
        {"file": "/b.wav", "emotion": "sadness"},
        {"file": "/c.wav", "arousal_level": "high"},
        {"file": "/d.wav", "emotion": "disgust"},
    ]
    table = make_table(rows)
    extra = {"neutral": "normal", "sadness": "low"}
    levels, report = apply_label_space(table, "arousal_level", extra=extra)
    # a level column wins where present; the categories take their mapped level
    assert levels["label"].tolist() == ["normal", "low", "high"]
    assert report.dropped == {"disgust": 1}
    with pytest.raises(ValueError, match=r"extra\['neutral'\]='mid' is not one of"):
        apply_label_space(table, "arousal_level", extra={"neutral": "mid"})


def test_binarised_midpoint_side_per_corpus():
    # the enriched-AAE paper (Sec. 2.1): IEMOCAP's 3 is high ([3, 5]), the other corpora's
    # 0 low ([-1, 0])
    table = pd.DataFrame(
        {
            "file": list("abcd"),
            "corpus": ["iemocap", "iemocap", "creativeit", "creativeit"],
            "arousal": [0.0, -0.5, 0.0, 0.5],
        }
    )
    labelled, _ = apply_label_space(table, "binarised_arousal", midpoint={"iemocap": "high"})
    assert labelled["label"].tolist() == ["high", "low", "low", "high"]
    with pytest.raises(ValueError, match=r"midpoint\['iemocap'\]='up' is not one of"):
        apply_label_space(table, "binarised_arousal", midpoint={"iemocap": "up"})
    with pytest.raises(ValueError, match="needs the table's corpus column"):
        apply_label_space(table.drop(columns="corpus"), "binarised_arousal", midpoint={})
