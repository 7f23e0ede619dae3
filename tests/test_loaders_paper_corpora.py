"""Loaders of the corpora the published presets use: FAU Aibo, CreativeIT, VAM, NNIME."""

from __future__ import annotations

import pytest
from fixtures_corpora import (
    make_creativeit,
    make_emodb,
    make_fau_aibo,
    make_nnime,
    make_vam,
    write_traces,
    write_wav,
)

from emoshift.data.labels import apply_label_space
from emoshift.data.loaders import (
    CorpusFormatError,
    CorpusWarning,
    LoadReport,
    format_name,
    load_corpus,
)
from emoshift.data.table import validate_table


def _by_stem(table):
    return table.set_index(table["file"].map(lambda f: f.rsplit("/", 1)[-1][:-4]))


def test_fau_aibo_chunks_schools_and_both_label_sets(tmp_path):
    table = _by_stem(load_corpus(make_fau_aibo(tmp_path), "aibo"))
    assert len(table) == 4
    assert table.loc["Ohm_01_002_00", "speaker"] == "fau_aibo_Ohm_01"
    assert table.groupby("school").size().to_dict() == {"Mont": 2, "Ohm": 2}
    assert table["aibo_2cl"].tolist() == ["NEG", "IDL", "IDL", "NEG"]  # sorted by file
    assert table.loc["Mont_02_010_01", ["aibo_5cl", "emotion", "valence_class"]].tolist() == [
        "A",
        "anger",
        "negative",
    ]
    assert table.loc["Ohm_01_002_00", "aibo_5cl"] == "E"
    assert table["emotion"].isna().sum() == 1  # emphatic has no normalised category
    assert table.loc["Mont_02_011_00", "emotion"] == "other"
    assert table.loc["Ohm_01_002_00", "confidence_2cl"] == 0.8
    assert (table["language"] == "de").all() and table["gender"].isna().all()
    validate_table(table.reset_index(drop=True))


def test_fau_aibo_binary_valence_follows_neg_idl_and_pairs_with_emodb(tmp_path):
    aibo = load_corpus(make_fau_aibo(tmp_path), "fau_aibo")
    labelled, report = apply_label_space(aibo, "binary_valence")
    assert report.counts == {"negative": 2, "positive": 2}
    assert (labelled["label"] == labelled["valence_class"]).all()  # rest and emphatic too
    emodb, _ = apply_label_space(load_corpus(make_emodb(tmp_path), "emodb"), "binary_valence")
    assert set(emodb["label"]) == {"negative", "positive"}
    mont = aibo[aibo["school"] == "Mont"]
    assert set(mont["speaker"]) == {"fau_aibo_Mont_02"}


def test_fau_aibo_one_task_and_reported_problems(tmp_path):
    root = make_fau_aibo(tmp_path)
    two = load_corpus(root, "fau_aibo", labels="2cl")
    assert "aibo_5cl" not in two and two["emotion"].isna().all()
    write_wav(root / "wav" / "Ohm_09_001_00.wav")
    with open(root / "labels/IS2009EmotionChallenge/chunk_labels_2cl_corpus.txt", "a") as f:
        f.write("Mont_05_001_00 IDL 1.0\nOhm_01_003_00 XXX 1.0\n")
    report = LoadReport()
    with pytest.warns(CorpusWarning):
        load_corpus(root, "fau_aibo", labels="2cl", report=report)
    assert report.unlabelled == [
        f"{root / 'wav' / 'Ohm_09_001_00.wav'}: no line in chunk_labels_2cl_corpus.txt"
    ]
    assert report.missing_audio == ["Mont_05_001_00: in chunk_labels_2cl_corpus.txt, no audio"]
    assert "2cl label 'XXX' not in FAU Aibo's scheme NEG IDL" in report.unrecognised[0]


@pytest.mark.bad_input
def test_fau_aibo_names_a_missing_label_file_and_a_bad_task(tmp_path):
    root = make_fau_aibo(tmp_path)
    (root / "labels/IS2009EmotionChallenge/chunk_labels_5cl_corpus.txt").unlink()
    with pytest.raises(FileNotFoundError, match="no chunk_labels_5cl_corpus.txt under"):
        load_corpus(root, "fau_aibo")
    with pytest.raises(ValueError, match=r"labels='3cl'; choose from \['2cl', '5cl'\]"):
        load_corpus(root, "fau_aibo", labels="3cl")


def test_creativeit_averages_traces_over_time_then_annotators(tmp_path):
    table = _by_stem(load_corpus(make_creativeit(tmp_path), "creative-it"))
    first = table.loc["Ses01_P01_A01"]
    assert first["arousal_raw"] == pytest.approx((0.3 + 0.6) / 2)
    assert first["arousal"] == first["arousal_raw"]  # native scale is already [-1, 1]
    assert (first["valence"], first["dominance"]) == (pytest.approx(-0.5), pytest.approx(0.2))
    assert first["n_annotators"] == 2
    assert (first["speaker"], first["session"], first["performance"]) == (
        "creativeit_A01",
        "Ses01",
        "P01",
    )
    second = table.loc["Ses01_P01_A02"]
    assert second["valence"] == pytest.approx(0.8) and second[["dominance"]].isna().all()
    labelled, _ = apply_label_space(table.reset_index(drop=True), "binarised_arousal")
    assert dict(zip(labelled["speaker"], labelled["label"], strict=True)) == {
        "creativeit_A01": "high",
        "creativeit_A02": "low",
    }


@pytest.mark.bad_input
def test_creativeit_reports_empty_traces_and_audio_without_traces(tmp_path):
    root = make_creativeit(tmp_path)
    (root / "annotations" / "valence" / "Ses01_P01_A01_ann9.txt").write_text("time value\n")
    write_wav(root / "audio" / "Ses02_P01_A03.wav")
    write_traces(root, "Ses03_P01_A05", {"activation": [[0.1]]})
    report = LoadReport()
    with pytest.warns(CorpusWarning):
        table = load_corpus(root, "creativeit", report=report)
    assert len(table) == 2
    assert "no '<time> <value>' lines in this trace" in report.unrecognised[0]
    traces = "the activation/valence/dominance traces"
    assert report.unlabelled[0].endswith(f"Ses02_P01_A03.wav: no line in {traces}")
    assert report.missing_audio == [f"Ses03_P01_A05: in {traces}, no audio"]
    with pytest.raises(CorpusFormatError, match="Ses01_P01_A01_ann9.txt"):
        load_corpus(root, "creativeit", strict=True)


def test_nnime_traces_and_session_level_labels(tmp_path):
    table = _by_stem(load_corpus(make_nnime(tmp_path), "nnime"))
    row = table.loc["S001_F01"]
    assert (row["speaker"], row["session"], row["language"]) == ("nnime_F01", "S001", "zh")
    assert row["arousal"] == pytest.approx((0.6 + 0.3) / 2) and row["valence"] == -0.6
    assert row["emotion"] == "anger"
    assert (row["session_arousal_raw"], row["session_arousal"]) == (5.0, 1.0)
    assert (row["session_valence_raw"], row["session_valence"]) == (1.0, -1.0)
    assert table.loc["S001_M02", "emotion"] == "sadness"
    assert table.loc["S001_M02", "session_arousal"] == pytest.approx(-0.5)
    assert table["dominance"].isna().all()


def test_vam_ewe_scores_speakers_gender_and_parts(tmp_path):
    table = _by_stem(load_corpus(make_vam(tmp_path), "Vera-am-Mittag"))
    row = table.loc["Satz001"]
    assert (row["speaker"], row["gender"], row["part"]) == ("vam_01", "female", "I")
    assert (row["valence"], row["arousal"], row["dominance"]) == (-0.25, 0.5, 0.75)
    assert (row["valence_raw"], row["arousal_raw"]) == (-0.25, 0.5)
    assert table.loc["Satz003", ["gender", "arousal", "dominance"]].tolist() == [
        "male",
        1.0,
        -1.0,
    ]
    assert table["emotion"].isna().all() and (table["elicitation"] == "natural").all()


@pytest.mark.bad_input
def test_vam_scores_outside_the_scale_and_missing_columns_are_named(tmp_path):
    root = make_vam(tmp_path)
    with open(root / "ewe.csv", "a") as f:
        f.write("Satz004,02,1.5,0.0,0.0,m,II\n")
    write_wav(root / "Audio" / "Satz004.wav")
    report = LoadReport()
    with pytest.warns(CorpusWarning):
        table = load_corpus(root, "vam", report=report)
    assert len(table) == 3
    assert report.unrecognised[0].startswith("ewe.csv line 5 (Satz004): valence, activation")
    assert report.unlabelled == [f"{root / 'Audio' / 'Satz004.wav'}: no line in ewe.csv"]
    (root / "ewe.csv").write_text("utterance,valence\nSatz001,0.1\n")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['speaker', 'activation'"):
        load_corpus(root, "vam")
    (root / "ewe.csv").unlink()
    with pytest.raises(FileNotFoundError, match="vam: no EWE label table"):
        load_corpus(root, "vam")


def test_aliases_name_the_new_corpora():
    assert [format_name(n) for n in ("FAU-Aibo", "aibo", "CreativeIT", "VAM", "NNIME")] == [
        "fau_aibo",
        "fau_aibo",
        "creativeit",
        "vam",
        "nnime",
    ]


@pytest.mark.bad_input
def test_nnime_session_labels_outside_the_scheme_are_named(tmp_path):
    root = make_nnime(tmp_path)
    (root / "session_labels.csv").write_text(
        "session,speaker,category,activation,valence\nS001,F01,bored,3,3\nS001,M02,sad,9,x\n"
    )
    report = LoadReport()
    with pytest.warns(CorpusWarning):
        table = load_corpus(root, "nnime", report=report)
    assert table["emotion"].isna().all() and len(table) == 2
    assert (
        "session_labels.csv line 2: category 'bored' not in NNIME's scheme"
        in (report.unrecognised[0])
    )
    assert (
        "line 3: activation and valence must be numbers on the 1-5 scale"
        in (report.unrecognised[1])
    )
