"""Fixture trees of the corpora the published presets read, large enough to run them.

The loader fixtures (:mod:`fixtures_corpora`) hold a handful of files per corpus; a preset
needs more: speakers to split, classes on both sides, k = 12 labelled examples per class.
:func:`make_paper_corpora` writes every corpus a published preset names, in the layout
its loader documents, under one root (the ``$EMOSHIFT_CORPORA`` the presets point at),
with labels drawn from a seeded generator and 0.3 s of noise per utterance whose level
follows the label (so features are neither constant nor identical across files).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

#: folder names the published presets use under $EMOSHIFT_CORPORA
FOLDERS = {
    "iemocap": "IEMOCAP_full_release",
    "msp_improv": "MSP-IMPROV",
    "msp_podcast": "MSP-Podcast",
    "fau_aibo": "FAU_Aibo",
    "emodb": "emodb",
    "creativeit": "CreativeIT",
    "vam": "VAM",
    "nnime": "NNIME",
}


def noise(path: Path, level: float, sample_rate: int = 16000, seconds: float = 0.3) -> None:
    """Noise at ``path`` whose amplitude grows with ``level`` (seeded by the file name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    signal = rng.normal(0, 0.01 * (3 + level), int(sample_rate * seconds))
    signal *= 1 + 0.5 * np.sin(np.linspace(0, 6 * np.pi * (1 + rng.random()), len(signal)))
    sf.write(path, signal, sample_rate)


def _iemocap(base: Path, rng: np.random.Generator) -> None:
    codes = ("neu", "ang", "hap", "sad", "exc")
    for session in (1, 2):
        dialog = f"Ses0{session}F_impro01"
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        for turn in range(10):
            utterance = f"{dialog}_{'FM'[turn % 2]}{turn:03d}"
            v, a, d = (float(x) for x in rng.choice([1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5], 3))
            lines += [f"[{turn}.0 - {turn}.9]\t{utterance}\t{codes[turn % 5]}\t[{v}, {a}, {d}]", ""]
            noise(base / f"Session{session}/sentences/wav/{dialog}/{utterance}.wav", a - 3)
        folder = base / f"Session{session}/dialog/EmoEvaluation"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{dialog}.txt").write_text("\n".join(lines) + "\n")


def _msp_improv(base: Path, rng: np.random.Generator) -> None:
    # 12 speakers (6 sessions) x 4 conditions x 4 emotions x 2 takes: a condition's 96
    # clips hold a 50 % test cut and five disjoint labelled folds with every class
    lines = []
    for number in range(384):
        session, gender = 1 + number % 6, "FM"[(number // 6) % 2]
        speaker = f"{gender}0{session}"
        emotion = "AHSN"[(number // 12) % 4]
        condition = "RTSP"[(number // 48) % 4]
        scenario = f"S0{1 + number % 6}{emotion}"
        clip = f"IMPROV-{scenario}-{speaker}-{condition}-FM{number:03d}"
        a, v, d = (float(x) for x in rng.uniform(1, 5, 3).round(2))
        lines += [f"UTD-{clip}.avi; {emotion}; A:{a}; V:{v}; D:{d}; N:3.0;", ""]
        folder = base / f"Audio/session{session}/{scenario}/{condition}"
        noise(folder / f"MSP-{clip}.wav", "SNHA".index(emotion) / 3)
    base.mkdir(parents=True, exist_ok=True)
    (base / "Evalution.txt").write_text("\n".join(lines) + "\n")
    _faces(base)


def _faces(base: Path, width: int = 8) -> None:
    """A face-embedding stream for MSP-IMPROV (the max-entropy preset's second stream):
    ``faces/<clip>.npy`` of (frames x ``width``) per audio file, and ``faces.csv``
    naming each (``file``, ``face_npy``, both relative to the corpus folder)."""
    rows = ["file,face_npy"]
    for wav in sorted(base.glob("Audio/**/*.wav")):
        rng = np.random.default_rng(zlib.crc32(wav.name.encode()))
        face = Path("faces") / f"{wav.stem}.npy"
        (base / face).parent.mkdir(exist_ok=True)
        np.save(base / face, rng.normal(size=(int(rng.integers(4, 11)), width)).astype(np.float32))
        rows.append(f"{wav.relative_to(base).as_posix()},{face.as_posix()}")
    (base / "faces.csv").write_text("\n".join(rows) + "\n")


def _msp_podcast(base: Path, rng: np.random.Generator) -> None:
    rows = ["FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"]
    for number in range(36):
        name = f"MSP-PODCAST_{number // 6:04d}_{number:04d}.wav"
        speaker = "Unknown" if number % 5 == 0 else str(100 + number % 7)
        split = ("Train", "Development", "Test1")[number % 3]
        a, v, d = (float(x) for x in rng.uniform(1, 7, 3).round(1))
        rows.append(f"{name},{'NAHS'[number % 4]},{a},{v},{d},{speaker},Female,{split}")
        noise(base / "Audios" / name, (a - 4) / 3)
    for number in range(12):  # the unlabelled pool: audio without labels
        noise(base / "Audios" / f"MSP-PODCAST_9{number:03d}_0001.wav", 0.0)
    (base / "Labels").mkdir(parents=True, exist_ok=True)
    (base / "Labels" / "labels_consensus.csv").write_text("\n".join(rows) + "\n")


def _fau_aibo(base: Path, rng: np.random.Generator) -> None:
    lines = []
    for school in ("Ohm", "Mont"):
        for number in range(24):
            chunk = f"{school}_{1 + number % 4:02d}_{number:03d}_00"
            label = ("NEG", "IDL")[int(rng.random() < 0.5)]
            lines.append(f"{chunk} {label} 1.0")
            noise(base / "wav" / f"{chunk}.wav", float(label == "NEG"))
    folder = base / "labels" / "IS2009EmotionChallenge"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chunk_labels_2cl_corpus.txt").write_text("\n".join(lines) + "\n")


def _emodb(base: Path, rng: np.random.Generator) -> None:
    # enough of each valence class that a speaker-split pool holds 12 per class
    speakers = ("03", "08", "09", "10", "11", "12", "13", "14", "15", "16")
    for speaker in speakers:
        for number, emotion in enumerate("WLEAFTNFNW"):
            noise(
                base / "wav" / f"{speaker}a{number:02d}{emotion}a.wav", "TLNFEAW".index(emotion) / 6
            )


def _traced(base: Path, recordings: list[str], attributes: tuple[str, ...]) -> None:
    """0.6 s recordings with traces sampled every 0.3 s and two 0.3 s utterances each
    (``segments/<recording>.txt``), so that utterance mode scores each from one sample."""
    rng = np.random.default_rng(zlib.crc32(base.name.encode()))
    for recording in recordings:
        values = {attribute: rng.uniform(-0.9, 0.8, 2) for attribute in attributes}
        level = float(values["activation"].mean())
        noise(base / "audio" / f"{recording}.wav", level, seconds=0.6)
        for attribute, trace in values.items():
            for rater, shift in enumerate((0.0, 0.1), 1):
                path = base / "annotations" / attribute / f"{recording}_ann{rater}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                samples = (f"{0.3 * t:g} {v + shift:.3f}\n" for t, v in enumerate(trace))
                path.write_text("".join(samples))
        (base / "segments").mkdir(parents=True, exist_ok=True)
        (base / "segments" / f"{recording}.txt").write_text("0 0.3\n0.3 0.6\n")


def _vam(base: Path, rng: np.random.Generator) -> None:
    rows = ["utterance,speaker,valence,activation,dominance,gender,part"]
    for number in range(24):
        v, a, d = (float(x) for x in rng.uniform(-1, 1, 3).round(2))
        rows.append(f"Satz{number:03d},{number % 4:02d},{v},{a},{d},{'fm'[number % 2]},I")
        noise(base / "Audio" / f"Satz{number:03d}.wav", a)
    (base / "ewe.csv").write_text("\n".join(rows) + "\n")


def make_paper_corpora(root: Path, seed: int = 0) -> Path:
    """Write every corpus of the published presets under ``root``; return ``root``."""
    rng = np.random.default_rng(seed)
    _iemocap(root / FOLDERS["iemocap"], rng)
    _msp_improv(root / FOLDERS["msp_improv"], rng)
    _msp_podcast(root / FOLDERS["msp_podcast"], rng)
    _fau_aibo(root / FOLDERS["fau_aibo"], rng)
    _emodb(root / FOLDERS["emodb"], rng)
    actors = [f"Ses0{s}_P0{p}_A0{a}" for s in (1, 2) for p in (1, 2, 3) for a in (1, 2, 3, 4)]
    _traced(root / FOLDERS["creativeit"], actors, ("activation", "valence", "dominance"))
    _vam(root / FOLDERS["vam"], rng)
    sessions = [
        f"S00{s}_{g}0{n}" for s in range(1, 7) for g, n in (("F", 1), ("M", 2), ("F", 3), ("M", 4))
    ]
    _traced(root / FOLDERS["nnime"], sessions, ("activation", "valence"))
    return root
