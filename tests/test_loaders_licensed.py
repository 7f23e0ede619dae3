"""IEMOCAP, MSP-IMPROV and MSP-Podcast on fixture trees in their documented layouts."""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures_corpora import make_iemocap, make_msp_improv, make_msp_podcast, write_wav

from emoshift.data.loaders import CorpusWarning, LoadReport, load_corpus


def _by_stem(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index(table["file"].str.rsplit("/", n=1).str[-1].str.removesuffix(".wav"))


def test_iemocap_categories_dimensions_speakers_and_elicitation(tmp_path):
    table = _by_stem(load_corpus(make_iemocap(tmp_path), "iemocap"))
    assert len(table) == 5
    first = table.loc["Ses01F_impro01_F000"]
    assert first[["speaker", "gender", "emotion", "elicitation", "session", "dialog"]].tolist() == [
        "iemocap_Ses01F",
        "female",
        "neutral",
        "improvised",
        "1",
        "Ses01F_impro01",
    ]
    assert first["valence_raw"] == 2.5 and first["valence"] == pytest.approx(-0.25)
    male = table.loc["Ses01F_impro01_M000"]
    assert male["speaker"] == "iemocap_Ses01M" and male["emotion"] == "frustration"
    assert male["arousal_raw"] == 3.5 and male["arousal"] == pytest.approx(0.25)
    assert male["dominance"] == pytest.approx(0.25)
    disagreement = table.loc["Ses01F_impro01_F001"]
    assert pd.isna(disagreement["emotion"]) and disagreement["emotion_raw"] == "xxx"
    assert disagreement["arousal_raw"] == 3.0
    scripted = table.loc["Ses02M_script01_1_M003"]
    assert scripted[["emotion", "elicitation", "session", "speaker"]].tolist() == [
        "excitement",
        "scripted",
        "2",
        "iemocap_Ses02M",
    ]


def test_iemocap_reports_audio_without_labels_and_labels_without_audio(tmp_path):
    root = make_iemocap(tmp_path)
    (root / "Session2/sentences/wav/Ses02M_script01_1/Ses02M_script01_1_F004.wav").unlink()
    write_wav(root / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M001.wav")
    report = LoadReport()
    with pytest.warns(CorpusWarning) as caught:
        table = load_corpus(root, "iemocap", report=report)
    assert len(table) == 4
    assert report.missing_audio == ["Ses02M_script01_1_F004: in EmoEvaluation, no sentence audio"]
    assert report.unlabelled[0].endswith("Ses01F_impro01_M001.wav: no EmoEvaluation entry")
    assert len(caught) == 2


def test_msp_improv_elicitation_speakers_and_scores(tmp_path):
    table = _by_stem(load_corpus(make_msp_improv(tmp_path), "msp_improv"))
    assert table["elicitation"].to_dict() == {
        "MSP-IMPROV-S01A-F01-R-FM01": "TR",
        "MSP-IMPROV-S01A-F01-T-FM02": "TI",
        "MSP-IMPROV-S02H-M01-S-MF03": "OI",
        "MSP-IMPROV-S02H-M01-P-MF04": "NI",
        "MSP-IMPROV-S05N-F03-P-FM01": "NI",
    }
    read = table.loc["MSP-IMPROV-S01A-F01-R-FM01"]
    assert read[
        ["speaker", "gender", "session", "emotion", "sentence", "target_emotion"]
    ].tolist() == [
        "msp_improv_F01",
        "female",
        "1",
        "anger",
        "S01",
        "anger",
    ]
    assert read["arousal_raw"] == 4.2 and read["arousal"] == pytest.approx(0.6)
    assert read["valence_raw"] == 1.8 and read["dominance_raw"] == 3.6
    assert read["naturalness"] == 2.0
    no_agreement = table.loc["MSP-IMPROV-S02H-M01-P-MF04"]
    assert pd.isna(no_agreement["emotion"]) and pd.isna(no_agreement["dominance"])
    assert no_agreement["arousal"] == 0.0 and no_agreement["naturalness"] == 4.6
    assert table.loc["MSP-IMPROV-S05N-F03-P-FM01", "speaker"] == "msp_improv_F03"
    assert set(table["language"]) == {"en"}


def test_msp_improv_without_evaluation_file_names_what_it_looked_for(tmp_path):
    root = make_msp_improv(tmp_path)
    (root / "Evalution.txt").rename(tmp_path / "labels.txt")
    with pytest.raises(FileNotFoundError, match="Evalution.txt or Evaluation.txt"):
        load_corpus(root, "msp_improv")
    table = load_corpus(root, "msp_improv", labels=tmp_path / "labels.txt")
    assert len(table) == 5


@pytest.mark.parametrize("format", ["csv", "json"])
def test_msp_podcast_labels_partitions_and_unlabelled_pool(tmp_path, format):
    table = _by_stem(load_corpus(make_msp_podcast(tmp_path, format), "msp_podcast"))
    assert len(table) == 6
    first = table.loc["MSP-PODCAST_0001_0008"]
    assert first[["speaker", "gender", "emotion", "partition"]].tolist() == [
        "msp_podcast_127",
        "female",
        "neutral",
        "Train",
    ]
    assert first["arousal_raw"] == 5.8 and first["arousal"] == pytest.approx(0.6)
    assert first["valence"] == pytest.approx(0.0)
    unknown = table.loc["MSP-PODCAST_0002_0001"]
    assert pd.isna(unknown["speaker"]) and pd.isna(unknown["gender"])
    assert pd.isna(unknown["emotion"]) and unknown["partition"] == "Test1"
    assert table.loc["MSP-PODCAST_0003_0004", "emotion"] == "contempt"
    pool = table[table["partition"] == "unlabelled"]
    assert list(pool.index) == ["MSP-PODCAST_0004_0001", "MSP-PODCAST_0004_0002"]
    assert pool["emotion"].isna().all() and pool["arousal"].isna().all()
    assert set(table["elicitation"]) == {"natural"}


def test_msp_podcast_can_leave_out_the_pool_and_reports_missing_audio(tmp_path):
    root = make_msp_podcast(tmp_path)
    (root / "Audios" / "MSP-PODCAST_0001_0009.wav").unlink()
    report = LoadReport()
    with pytest.warns(CorpusWarning, match="MSP-PODCAST_0001_0009.wav: in labels_consensus.csv"):
        table = load_corpus(root, "msp_podcast", include_unlabelled=False, report=report)
    assert len(table) == 3 and "unlabelled" not in set(table["partition"])
    assert report.unlabelled == []
