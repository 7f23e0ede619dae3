"""Tiny fixture corpora in each corpus's documented layout, for the loader tests.

Every audio file is 0.1 s of low-level noise at the corpus's usual sample rate. Each
``make_*`` function writes the tree under ``root`` and returns the folder to load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import soundfile as sf

SHARED_DATA = Path(
    os.environ.get("EMOSHIFT_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
"""The real corpora beside the checkout (``../shared/data``), or $EMOSHIFT_SHARED_DATA."""


def write_wav(path: Path, sample_rate: int = 16000, seconds: float = 0.1) -> Path:
    """A short mono noise WAV at ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(len(path.name)).normal(0, 0.01, int(sample_rate * seconds))
    sf.write(path, noise, sample_rate)
    return path


def make_emodb(root: Path, names: tuple[str, ...] = ()) -> Path:
    """``wav/SSTTTEV.wav``: two speakers, four emotions, plus ``names``."""
    base = root / "emodb"
    for name in ("03a01Wa.wav", "03a02Fc.wav", "08b01Tb.wav", "08b10Na.wav", *names):
        write_wav(base / "wav" / name)
    return base


def make_ravdess(root: Path) -> Path:
    """``Actor_NN/`` with speech and song files of two actors."""
    base = root / "ravdess"
    for name in (
        "03-01-01-01-01-01-01.wav",  # speech, neutral, actor 1 (male)
        "03-01-02-02-02-02-01.wav",  # speech, calm, strong, dogs, rep 2
        "03-01-05-02-01-01-02.wav",  # speech, angry, actor 2 (female)
        "03-02-06-01-02-01-02.wav",  # song, fearful
    ):
        write_wav(base / f"Actor_{name[-6:-4]}" / name, 48000)
    return base


TABULATED_VOTES = (
    '"","A","D","F","H","N","S","fileName","numResponses","agreement","emoVote",'
    '"meanEmoResp"\n'
    '"100001",7,1,0,0,1,0,"1001_DFA_ANG_XX",9,0.777777777777778,"A",61.2\n'
    '"200001",4,4,0,0,1,0,"1001_DFA_ANG_XX",9,0.444444444444444,"A:D",55\n'
    '"300001",9,0,0,0,0,0,"1001_DFA_ANG_XX",9,1,"A",70\n'
    '"100002",0,0,0,2,8,0,"1002_IEO_HAP_LO",10,0.8,"N",64.5\n'
)
"""processedResults/tabulatedVotes.csv as the CREMA-D repository has it (columns cut)."""


def make_cremad(root: Path, ratings: bool = True, demographics: bool = True) -> Path:
    """``AudioWAV/`` with three clips, and optionally the rating and demographics files."""
    base = root / "cremad"
    for name in ("1001_DFA_ANG_XX.wav", "1002_IEO_HAP_LO.wav", "1003_WSI_SAD_HI.wav"):
        write_wav(base / "AudioWAV" / name)
    if ratings:
        (base / "processedResults").mkdir()
        (base / "processedResults" / "tabulatedVotes.csv").write_text(TABULATED_VOTES)
    if demographics:
        (base / "VideoDemographics.csv").write_text(
            '"ActorID","Age","Sex","Race","Ethnicity"\n'
            '1001,51,"Male","Caucasian","Not Hispanic"\n'
            '1002,21,"Female","Caucasian","Not Hispanic"\n'
            '1003,21,"Female","Caucasian","Not Hispanic"\n'
        )
    return base


def make_tess(root: Path) -> Path:
    """Speaker-emotion folders as on the Dataverse, four files."""
    base = root / "tess"
    for folder, name in (
        ("OAF_angry", "OAF_back_angry.wav"),
        ("OAF_Pleasant_surprise", "OAF_back_ps.wav"),
        ("YAF_sad", "YAF_dog_sad.wav"),
        ("YAF_neutral", "YAF_dog_neutral.wav"),
    ):
        write_wav(base / folder / name, 24414)
    return base


def make_savee(root: Path, flat: bool = False) -> Path:
    """``AudioData/<speaker>/<emotion><NN>.wav`` (or flat ``<speaker>_<emotion><NN>.wav``)."""
    base = root / "savee"
    for speaker, name in (("DC", "a01.wav"), ("JE", "sa03.wav"), ("KL", "su15.wav")):
        path = base / "ALL" / f"{speaker}_{name}" if flat else base / "AudioData" / speaker / name
        write_wav(path, 44100)
    return base


IEMOCAP_EVALUATION = {
    "Ses01F_impro01": (
        "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
        "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n"
        "C-E2:\tNeutral;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n\n"
        "[10.0100 - 11.3925]\tSes01F_impro01_M000\tfru\t[2.0000, 3.5000, 3.5000]\n"
        "C-E1:\tFrustration;\t()\n\n"
        "[14.8872 - 18.0175]\tSes01F_impro01_F001\txxx\t[2.5000, 3.0000, 3.0000]\n"
    ),
    "Ses02M_script01_1": (
        "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
        "[1.0000 - 3.0000]\tSes02M_script01_1_M003\texc\t[4.0000, 4.5000, 3.0000]\n\n"
        "[3.5000 - 5.0000]\tSes02M_script01_1_F004\tang\t[1.5000, 4.0000, 4.0000]\n"
    ),
}
"""EmoEvaluation files, format as in the release (evaluator lines included)."""


def make_iemocap(root: Path) -> Path:
    """``IEMOCAP_full_release/Session{1,2}`` with sentence audio and EmoEvaluation files."""
    base = root / "IEMOCAP_full_release"
    for dialog, text in IEMOCAP_EVALUATION.items():
        session = base / f"Session{int(dialog[3:5])}"
        (session / "dialog" / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
        (session / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text(text)
        write_wav(session / "dialog" / "wav" / f"{dialog}.wav")  # whole dialog: ignored
        for line in text.splitlines():
            if line.startswith("["):
                utterance = line.split("\t")[1]
                write_wav(session / "sentences" / "wav" / dialog / f"{utterance}.wav")
    return base


MSP_IMPROV_EVALUATION = (
    "UTD-IMPROV-S01A-F01-R-FM01.avi; A; A:4.200000; V:1.800000; D:3.600000; N:2.000000;\n"
    "p1-A; Angry; Frustrated; A:4.0; V:2.0; D:4.0; N:2.0;\n\n"
    "UTD-IMPROV-S01A-F01-T-FM02.avi; A; A:4.500000; V:1.500000; D:4.000000; N:3.000000;\n\n"
    "UTD-IMPROV-S02H-M01-S-MF03.avi; H; A:3.600000; V:4.400000; D:3.200000; N:4.000000;\n\n"
    "UTD-IMPROV-S02H-M01-P-MF04.avi; X; A:3.000000; V:3.000000; D:NaN ; N:4.600000;\n\n"
    "UTD-IMPROV-S05N-F03-P-FM01.avi; N; A:2.400000; V:3.200000; D:2.800000; N:4.800000;\n"
)
"""Evalution.txt: consensus lines with their scores (one evaluator line kept)."""


def make_msp_improv(root: Path) -> Path:
    """``Audio/session<K>/S<NN><E>/<C>/MSP-IMPROV-...wav`` and ``Evalution.txt``."""
    base = root / "MSP-IMPROV"
    base.mkdir(parents=True)
    (base / "Evalution.txt").write_text(MSP_IMPROV_EVALUATION)
    for line in MSP_IMPROV_EVALUATION.splitlines():
        if line.startswith("UTD-"):
            clip = "MSP-" + line.split(".avi")[0][4:]
            _, _, scenario, speaker, condition, _ = clip.split("-")
            folder = base / "Audio" / f"session{int(speaker[1:])}" / scenario / condition
            write_wav(folder / f"{clip}.wav", 44100)
    return base


MSP_PODCAST_LABELS = [
    ("MSP-PODCAST_0001_0008.wav", "N", 5.8, 4.0, 4.4, "127", "Female", "Train"),
    ("MSP-PODCAST_0001_0009.wav", "A", 6.2, 1.6, 6.0, "127", "Female", "Development"),
    ("MSP-PODCAST_0002_0001.wav", "X", 3.0, 3.4, 3.8, "Unknown", "Unknown", "Test1"),
    ("MSP-PODCAST_0003_0004.wav", "C", 5.0, 2.2, 5.4, "88", "Male", "Test2"),
]
"""Consensus labels: FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set."""


def make_msp_podcast(root: Path, format: str = "csv") -> Path:
    """``Audios/`` with the labelled segments plus two unlabelled ones, and ``Labels/``."""
    base = root / "MSP-Podcast"
    (base / "Labels").mkdir(parents=True)
    header = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender")
    header += ("Split_Set",)
    if format == "csv":
        lines = [",".join(header)] + [",".join(map(str, row)) for row in MSP_PODCAST_LABELS]
        (base / "Labels" / "labels_consensus.csv").write_text("\n".join(lines) + "\n")
    else:
        entries = {
            row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in MSP_PODCAST_LABELS
        }
        (base / "Labels" / "labels_consensus.json").write_text(json.dumps(entries))
    names = [row[0] for row in MSP_PODCAST_LABELS]
    names += ["MSP-PODCAST_0004_0001.wav", "MSP-PODCAST_0004_0002.wav"]
    for name in names:
        write_wav(base / "Audios" / name)
    return base


def make_urdu(root: Path) -> Path:
    """``{Angry,Happy,Neutral,Sad}/SMn_Fk_Ekkk.wav``, one or two files per folder."""
    base = root / "urdu"
    for folder, name in (
        ("Angry", "SM1_F10_A010.wav"),
        ("Angry", "SM1_F11_A011.wav"),
        ("Happy", "SF1_F10_H010.wav"),
        ("Neutral", "SM5_F1_N01.wav"),
        ("Sad", "SF10_F1_S01.wav"),
    ):
        write_wav(base / folder / name, 44100)
    return base


def make_csv(root: Path) -> Path:
    """A TSV listing three clips by relative path with corpus-specific labels."""
    base = root / "mycorpus"
    for name in ("a.wav", "b.wav", "c.wav"):
        write_wav(base / "clips" / name)
    (base / "meta.tsv").write_text(
        "path\tlabel\tspk\tact\tnote\n"
        "clips/a.wav\tang\tp1\t5\tloud\n"
        "clips/b.wav\thap\tp1\t3\t\n"
        f"{base / 'clips' / 'c.wav'}\tneu\tp2\t1\tquiet\n"
    )
    return base / "meta.tsv"


def make_baved(root: Path, names: tuple[str, ...] = ()) -> Path:
    """``<word>/<speaker>-<g>-<age>-<word>-<level>-<record>.wav``: three speakers, every
    level, and a file naming word 6 in folder 0 (as one distributed file does)."""
    base = root / "baved"
    for name in (
        "0-m-21-0-0-104.wav",
        "0-m-21-0-1-105.wav",
        "0-m-21-0-2-106.wav",
        "10-f-20-3-1-0.wav",
        "10-f-20-3-2-1.wav",
        "49-m-23-6-1-201.wav",
        *names,
    ):
        parts = name.split("-")
        folder = parts[3] if len(parts) == 6 and not name.startswith("49-") else "0"
        write_wav(base / folder / name)
    return base


AIBO_2CL = (
    "Ohm_01_001_00 IDL 1.0\nOhm_01_002_00 NEG 0.8\nMont_02_010_01 NEG 0.6\nMont_02_011_00 IDL 0.9\n"
)
AIBO_5CL = "Ohm_01_001_00 N 1.0\nOhm_01_002_00 E 0.5\nMont_02_010_01 A 0.6\nMont_02_011_00 R 0.4\n"
"""The two challenge label files of the Aibo fixture (``<chunk> <label> <confidence>``)."""


def make_fau_aibo(root: Path) -> Path:
    """``wav/<chunk>.wav`` of both schools and ``labels/IS2009EmotionChallenge/``."""
    base = root / "fau_aibo"
    for chunk in ("Ohm_01_001_00", "Ohm_01_002_00", "Mont_02_010_01", "Mont_02_011_00"):
        write_wav(base / "wav" / f"{chunk}.wav")
    labels = base / "labels" / "IS2009EmotionChallenge"
    labels.mkdir(parents=True)
    (labels / "chunk_labels_2cl_corpus.txt").write_text(AIBO_2CL)
    (labels / "chunk_labels_5cl_corpus.txt").write_text(AIBO_5CL)
    return base


def write_traces(base: Path, recording: str, traces: dict[str, list[list[float]]]) -> None:
    """``<attribute>/<recording>_<annotator>.txt`` traces, one list of values per annotator."""
    for attribute, annotators in traces.items():
        for number, values in enumerate(annotators, 1):
            path = base / "annotations" / attribute / f"{recording}_ann{number}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("time value\n" + "".join(f"{t} {v}\n" for t, v in enumerate(values)))


def make_creativeit(root: Path) -> Path:
    """Two actors of one session with activation/valence/dominance traces."""
    base = root / "creativeit"
    write_wav(base / "audio" / "Ses01_P01_A01.wav")
    write_wav(base / "audio" / "Ses01_P01_A02.wav")
    write_traces(
        base,
        "Ses01_P01_A01",
        {"activation": [[0.2, 0.4], [0.6]], "valence": [[-0.5]], "dominance": [[0.1, 0.3]]},
    )
    write_traces(base, "Ses01_P01_A02", {"activation": [[-0.8]], "valence": [[0.9, 0.7]]})
    return base


def make_nnime(root: Path) -> Path:
    """Two actors of one session with traces and the session-level labels."""
    base = root / "nnime"
    write_wav(base / "audio" / "S001_F01.wav")
    write_wav(base / "audio" / "S001_M02.wav")
    write_traces(base, "S001_F01", {"activation": [[0.5, 0.7], [0.3]], "valence": [[-0.6]]})
    write_traces(base, "S001_M02", {"activation": [[0.1]], "valence": [[0.2]]})
    (base / "session_labels.csv").write_text(
        "session,speaker,category,activation,valence\nS001,F01,angry,5,1\nS001,M02,sad,2,2\n"
    )
    return base


def make_vam(root: Path) -> Path:
    """Three utterances of two speakers and the EWE table."""
    base = root / "vam"
    for name in ("Satz001", "Satz002", "Satz003"):
        write_wav(base / "Audio" / f"{name}.wav")
    (base / "ewe.csv").write_text(
        "utterance,speaker,valence,activation,dominance,gender,part\n"
        "Satz001,01,-0.25,0.5,0.75,f,I\n"
        "Satz002,01,0.1,-0.2,0.0,f,I\n"
        "Satz003,02,0.0,1.0,-1.0,m,II\n"
    )
    return base
