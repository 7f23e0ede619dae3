"""The loaders on the real corpora in ../shared/data: counts as the corpora document them."""

from __future__ import annotations

import warnings

import pytest
from fixtures_corpora import SHARED_DATA

from emoshift.data.labels import apply_label_space
from emoshift.data.loaders import load_corpus

pytestmark = pytest.mark.shared_data


def _corpus(name: str):
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real corpus {path} absent; set EMOSHIFT_SHARED_DATA to its folder")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_corpus(path, name)


@pytest.fixture(scope="module")
def emodb():
    return _corpus("emodb")


@pytest.fixture(scope="module")
def urdu():
    return _corpus("urdu")


def test_emodb_matches_its_documented_counts(emodb):
    assert len(emodb) == 535
    assert emodb["speaker"].nunique() == 10
    assert emodb["emotion"].value_counts().to_dict() == {
        "anger": 127,
        "boredom": 81,
        "neutral": 79,
        "happiness": 71,
        "fear": 69,
        "sadness": 62,
        "disgust": 46,
    }
    genders = emodb.groupby("speaker")["gender"].first()
    assert sorted(genders[genders == "male"].index) == [
        f"emodb_{s}" for s in ("03", "10", "11", "12", "15")
    ]
    assert set(emodb["sample_rate"]) == {22050}
    assert emodb["duration"].round(2).eq(2.0).all()


def test_urdu_matches_its_documented_counts(urdu):
    assert len(urdu) == 400
    assert urdu["emotion"].value_counts().to_dict() == {
        "anger": 100,
        "happiness": 100,
        "neutral": 100,
        "sadness": 100,
    }
    assert urdu["speaker"].nunique() == 29
    assert urdu["speaker"].value_counts().head(3).to_dict() == {
        "urdu_SM5": 80,
        "urdu_SM4": 48,
        "urdu_SM25": 40,
    }
    assert urdu.groupby("gender").size().to_dict() == {"female": 56, "male": 344}
    assert set(urdu["sample_rate"]) == {44100}


def test_emodb_and_urdu_share_the_four_classes(emodb, urdu):
    shared, report = apply_label_space(emodb, "shared", other=urdu)
    assert report.labels == ("anger", "happiness", "sadness", "neutral")
    assert report.dropped == {"boredom": 81, "fear": 69, "disgust": 46}
    assert len(shared) == 339
