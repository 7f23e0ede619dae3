"""Loader errors and warnings name the directory, the file and the expected pattern."""

from __future__ import annotations

import pytest
from fixtures_corpora import (
    IEMOCAP_EVALUATION,
    make_emodb,
    make_iemocap,
    make_msp_improv,
    make_ravdess,
    make_tess,
    make_urdu,
    write_wav,
)

from emoshift.data.loaders import (
    LOADERS,
    CorpusFormatError,
    CorpusWarning,
    LoadReport,
    load_corpus,
)

DIRECTORY_LOADERS = sorted(set(LOADERS) - {"csv"})


@pytest.mark.parametrize("name", DIRECTORY_LOADERS)
def test_missing_directory_is_named(tmp_path, name):
    missing = tmp_path / "not-there"
    with pytest.raises(FileNotFoundError, match=f"{name}: corpus directory {missing} does not"):
        load_corpus(missing, name)


def test_a_file_instead_of_a_directory_is_refused(tmp_path):
    path = write_wav(tmp_path / "03a01Wa.wav")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        load_corpus(path, "emodb")


def test_emodb_unknown_emotion_letter_warns_with_file_and_pattern(tmp_path):
    root = make_emodb(tmp_path, names=("03a01Xa.wav", "readme.wav"))
    report = LoadReport()
    with pytest.warns(CorpusWarning) as caught:
        table = load_corpus(root, "emodb", report=report)
    assert len(table) == 4
    message = str(caught[0].message)
    assert "emodb: 2 file name(s) or label(s) outside the corpus's scheme (skipped)" in message
    assert (
        "03a01Xa.wav: emotion letter 'X' not in EmoDB's scheme W L E A F T N; "
        "expected SSTTTEV.wav" in message
    )
    assert "readme.wav: name does not follow EmoDB's scheme; expected SSTTTEV.wav" in message
    assert report.unrecognised[0].startswith("03a01Xa.wav: emotion letter 'X'")


def test_strict_mode_raises_at_the_first_problem(tmp_path):
    root = make_emodb(tmp_path, names=("03a01Xa.wav",))
    with pytest.raises(CorpusFormatError, match="emodb: 03a01Xa.wav: emotion letter 'X'.*SSTTTEV"):
        load_corpus(root, "emodb", strict=True)


def test_a_directory_without_corpus_files_says_what_layout_it_expected(tmp_path):
    write_wav(tmp_path / "empty" / "hello.wav")
    with pytest.warns(CorpusWarning, match="hello.wav"):
        with pytest.raises(CorpusFormatError, match=r"no utterances found .*expected layout: wav/"):
            load_corpus(tmp_path / "empty", "emodb")


@pytest.mark.parametrize(
    "maker, name, bad, expected",
    [
        (make_ravdess, "ravdess", "Actor_01/03-01-09-01-01-01-01.wav", "emotion '09' not in"),
        (make_ravdess, "ravdess", "Actor_01/03-01-01-02-01-01-01.wav", "strong intensity"),
        (make_tess, "tess", "OAF_angry/OAF_back_happy.wav", "contradicts the folder"),
        (make_tess, "tess", "OAF_x/OAF_back_bored.wav", "emotion 'bored' not in"),
        (make_urdu, "urdu", "Angry/SM1_F12_H012.wav", "contradicts the folder"),
        (make_urdu, "urdu", "Angry/SM1_F12_Q012.wav", "emotion letter 'Q' not in"),
        (make_msp_improv, "msp_improv", "Audio/MSP-IMPROV-S01A-F01-Z-FM09.wav", "condition 'Z'"),
    ],
)
def test_labels_outside_the_scheme_are_named(tmp_path, maker, name, bad, expected):
    root = maker(tmp_path)
    write_wav(root / bad)
    filename = bad.rsplit("/", 1)[-1]
    with pytest.warns(CorpusWarning, match=filename) as caught:
        load_corpus(root, name)
    assert expected in str(caught[0].message) and "expected" in str(caught[0].message)


def test_iemocap_category_outside_the_scheme_names_file_and_line(tmp_path):
    root = make_iemocap(tmp_path)
    evaluation = root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    evaluation.write_text(IEMOCAP_EVALUATION["Ses01F_impro01"].replace("\tfru\t", "\tbor\t"))
    with pytest.warns(CorpusWarning) as caught:
        load_corpus(root, "iemocap")
    messages = "\n".join(str(w.message) for w in caught)
    assert "Ses01F_impro01.txt line 7 (Ses01F_impro01_M000): category 'bor'" in messages
    assert "expected [START - END] UTTERANCE CODE [V, A, D]" in messages


def test_unreadable_and_empty_audio_is_skipped_and_reported(tmp_path):
    root = make_emodb(tmp_path)
    (root / "wav" / "03a01Wa.wav").write_bytes(b"RIFF but not really")
    write_wav(root / "wav" / "03a02Fc.wav", seconds=0)
    report = LoadReport()
    with pytest.warns(CorpusWarning, match="2 audio file"):
        table = load_corpus(root, "emodb", report=report)
    assert len(table) == 2
    assert report.unreadable[0].startswith(str(root / "wav" / "03a01Wa.wav"))
    assert report.unreadable[1] == f"{root / 'wav' / '03a02Fc.wav'}: no audio samples"
