"""Loaders for the acted corpora and URDU on fixture trees in their documented layouts."""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures_corpora import (
    make_cremad,
    make_emodb,
    make_ravdess,
    make_savee,
    make_tess,
    make_urdu,
)

from emoshift.data.loaders import LOADERS, CorpusWarning, LoadReport, format_name, load_corpus
from emoshift.data.table import EMOTIONS, validate_table


def _by_name(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index(table["file"].str.rsplit("/", n=1).str[-1])


def test_registry_names_every_corpus_and_accepts_aliases():
    assert set(LOADERS) == {
        "emodb",
        "ravdess",
        "cremad",
        "tess",
        "savee",
        "iemocap",
        "msp_improv",
        "msp_podcast",
        "urdu",
        "baved",
        "fau_aibo",
        "creativeit",
        "vam",
        "nnime",
        "csv",
    }
    assert format_name("CREMA-D") == "cremad"
    with pytest.raises(ValueError, match="known formats: emodb"):
        format_name("semaine")


def test_emodb_decodes_speaker_gender_emotion(tmp_path):
    table = load_corpus(make_emodb(tmp_path), "emodb")
    rows = _by_name(table)
    assert rows.loc["03a01Wa.wav", ["speaker", "gender", "emotion"]].tolist() == [
        "emodb_03",
        "male",
        "anger",
    ]
    assert rows.loc[
        "08b10Na.wav", ["speaker", "gender", "emotion", "sentence", "version"]
    ].tolist() == [
        "emodb_08",
        "female",
        "neutral",
        "b10",
        "a",
    ]
    assert set(table["language"]) == {"de"} and set(table["elicitation"]) == {"acted"}
    assert table["duration"].round(3).eq(0.1).all()
    assert table["sample_rate"].eq(16000).all()
    assert all(path.startswith(str(tmp_path)) for path in table["file"])
    validate_table(table)


def test_ravdess_decodes_the_seven_part_name_and_can_leave_out_song(tmp_path):
    root = make_ravdess(tmp_path)
    table = _by_name(load_corpus(root, "ravdess"))
    calm = table.loc["03-01-02-02-02-02-01.wav"]
    assert calm["speaker"] == "ravdess_01" and calm["gender"] == "male"
    assert calm["emotion"] == "calm" and calm["intensity"] == "strong"
    assert calm["statement"] == "02" and calm["text"] == "Dogs are sitting by the door"
    assert calm["repetition"] == 2 and calm["vocal_channel"] == "speech"
    song = table.loc["03-02-06-01-02-01-02.wav"]
    assert (song["vocal_channel"], song["emotion"], song["gender"]) == ("song", "fear", "female")
    speech_only = load_corpus(root, "ravdess", include_song=False)
    assert len(speech_only) == 3 and set(speech_only["vocal_channel"]) == {"speech"}


def test_cremad_reads_names_demographics_and_crowd_ratings(tmp_path):
    table = _by_name(load_corpus(make_cremad(tmp_path), "cremad"))
    angry = table.loc["1001_DFA_ANG_XX.wav"]
    assert angry[["speaker", "gender", "emotion", "sentence", "intensity"]].tolist() == [
        "cremad_1001",
        "male",
        "anger",
        "DFA",
        "unspecified",
    ]
    assert angry["age"] == 51 and angry["text"] == "Don't forget a jacket"
    assert angry["rating_voice_vote"] == "anger"
    assert angry["rating_face_vote"] == "anger:disgust"
    assert angry["rating_av_agreement"] == 1.0 and angry["rating_voice_responses"] == 9
    assert angry["rating_voice_level"] == pytest.approx(61.2)
    happy = table.loc["1002_IEO_HAP_LO.wav"]
    assert happy["rating_voice_vote"] == "neutral" and happy["intensity"] == "low"
    assert pd.isna(table.loc["1003_WSI_SAD_HI.wav", "rating_voice_vote"])


def test_cremad_without_side_files_uses_documented_actor_sex_and_reports_rated_clips(tmp_path):
    bare = _by_name(load_corpus(make_cremad(tmp_path, ratings=False, demographics=False), "cremad"))
    assert bare["gender"].tolist() == ["male", "female", "female"]
    assert "rating_voice_vote" not in bare


def test_cremad_ratings_without_audio_are_reported(tmp_path):
    root = make_cremad(tmp_path)
    with open(root / "processedResults" / "tabulatedVotes.csv", "a") as votes:
        votes.write('"100003",0,0,0,0,9,0,"1091_TSI_NEU_XX",9,1,"N",80\n')
    report = LoadReport()
    with pytest.warns(CorpusWarning, match="1091_TSI_NEU_XX: rated in tabulatedVotes.csv"):
        load_corpus(root, "cremad", report=report)
    assert report.missing_audio == ["1091_TSI_NEU_XX: rated in tabulatedVotes.csv, no audio"]


def test_tess_reads_emotion_from_name_and_folder(tmp_path):
    table = _by_name(load_corpus(make_tess(tmp_path), "tess"))
    assert table["emotion"].to_dict() == {
        "OAF_back_angry.wav": "anger",
        "OAF_back_ps.wav": "surprise",
        "YAF_dog_neutral.wav": "neutral",
        "YAF_dog_sad.wav": "sadness",
    }
    assert table.loc["OAF_back_ps.wav", ["speaker", "word", "age"]].tolist() == [
        "tess_OAF",
        "back",
        64,
    ]
    assert set(table["gender"]) == {"female"}


@pytest.mark.parametrize("flat", [False, True])
def test_savee_speaker_from_folder_or_prefix(tmp_path, flat):
    table = _by_name(load_corpus(make_savee(tmp_path, flat=flat), "savee"))
    table.index = table.index.str.split("_").str[-1]
    assert table["speaker"].to_dict() == {
        "a01.wav": "savee_DC",
        "sa03.wav": "savee_JE",
        "su15.wav": "savee_KL",
    }
    assert table["emotion"].tolist() == ["anger", "sadness", "surprise"]
    assert set(table["gender"]) == {"male"}


def test_urdu_speaker_ids_and_genders_from_names(tmp_path):
    table = _by_name(load_corpus(make_urdu(tmp_path), "urdu"))
    assert table.loc["SF1_F10_H010.wav", ["speaker", "gender", "emotion"]].tolist() == [
        "urdu_SF1",
        "female",
        "happiness",
    ]
    assert table.loc["SF10_F1_S01.wav", "speaker"] == "urdu_SF10"
    assert table["speaker"].nunique() == 4
    assert set(table["language"]) == {"ur"} and set(table["elicitation"]) == {"natural"}


@pytest.mark.parametrize(
    "maker, name",
    [(make_emodb, "emodb"), (make_ravdess, "ravdess"), (make_cremad, "cremad"), (make_tess, "tess")]
    + [(make_savee, "savee"), (make_urdu, "urdu")],
)
def test_every_table_passes_the_schema(tmp_path, maker, name):
    table = load_corpus(maker(tmp_path), name, duration=False)
    validate_table(table, allowed_emotions=EMOTIONS)
    assert table["speaker"].str.startswith(f"{name}_").all()
    assert table["duration"].isna().all()
