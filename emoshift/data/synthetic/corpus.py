"""Corpus assembly: the synthetic corpus's files, table and manifest for given sizes.

:func:`generate_corpus` draws the speakers of each domain, synthesises every utterance
(:mod:`~emoshift.data.synthetic.voice` then :mod:`~emoshift.data.synthetic.channel`),
writes it as a WAV file and returns the corpus table; :func:`generate_preset` does so
for one of the named sizes in :data:`~emoshift.data.synthetic.domains.PRESETS`.

Example:
    >>> import tempfile
    >>> table = generate_corpus(tempfile.mkdtemp(), domains=("broadcast",),
    ...                         speakers_per_domain=1, utterances_per_emotion=1,
    ...                         emotions=("anger",), progress=False)
    >>> table.loc[0, ["speaker", "elicitation", "language"]].tolist()
    ['broadcast_f01', 'read', 'zxx']
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from emoshift.data.synthetic.channel import channel
from emoshift.data.synthetic.domains import (
    EMOTION_PROTOTYPES,
    PRESETS,
    SyntheticDomain,
    resolve_domains,
)
from emoshift.data.synthetic.voice import AVD, Speaker, make_speaker, rng, voice
from emoshift.data.table import make_table, read_table, write_table
from emoshift.progress import progress as progress_bar

CORPUS_NAME = "synthetic"
"""The ``corpus`` column of every synthetic row."""

LANGUAGE = "zxx"
"""ISO 639-2 code for "no linguistic content": the synthetic voice says no words."""

GENERATOR_VERSION = 1
"""Bumped whenever the synthesis changes, so that stale folders are regenerated."""

TABLE_NAME = "corpus.parquet"
MANIFEST_NAME = "manifest.json"
SAMPLE_RATE = 16000
"""The default sampling rate of the WAV files, Hz."""


def _check_arguments(
    emotions: Sequence[str], speakers_per_domain: int, utterances_per_emotion: int, sr: int
) -> None:
    if isinstance(emotions, str):
        raise ValueError(f"emotions must be a sequence of names, not the string {emotions!r}")
    unknown = [e for e in emotions if e not in EMOTION_PROTOTYPES]
    if unknown:
        raise ValueError(
            f"unknown emotion(s) {unknown} for the synthetic voice; "
            f"it can express {sorted(EMOTION_PROTOTYPES)}"
        )
    if not emotions or len(set(emotions)) != len(emotions):
        raise ValueError(f"emotions must be a non-empty list without repeats, got {emotions}")
    if int(speakers_per_domain) < 1:
        raise ValueError(f"speakers_per_domain must be at least 1, got {speakers_per_domain}")
    if int(utterances_per_emotion) < 1:
        raise ValueError(f"utterances_per_emotion must be at least 1, got {utterances_per_emotion}")
    if sr < 8000:
        raise ValueError(f"sample_rate must be at least 8000 Hz, got {sr}")


def _sample_avd(
    emotion: str, domain: SyntheticDomain, rng: np.random.Generator
) -> tuple[AVD, float]:
    """An utterance's (arousal, valence, dominance) and the intensity that scaled them."""
    scale = round(float(rng.uniform(*domain.expressiveness)), 4)
    avd = np.array(domain.prototype(emotion)) * scale + domain.emotion_spread * rng.standard_normal(
        3
    )
    arousal, valence, dominance = (float(x) for x in np.round(np.clip(avd, -1.0, 1.0), 4))
    return (arousal, valence, dominance), scale


def _reuse(out_dir: Path, manifest: dict) -> pd.DataFrame | None:
    manifest_path = out_dir / MANIFEST_NAME
    table_path = out_dir / TABLE_NAME
    if not (manifest_path.is_file() and table_path.is_file()):
        return None
    try:
        stored = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if stored != manifest:
        return None
    table = read_table(table_path)
    if not table["file"].map(lambda f: os.path.isfile(str(f))).all():
        return None
    return table


def _manifest(
    seed: int,
    domains: list[SyntheticDomain],
    speakers_per_domain: int,
    utterances_per_emotion: int,
    emotions: Sequence[str],
    sample_rate: int,
) -> dict:
    """The parameters that fix the corpus, as written to ``manifest.json``."""
    return {
        "corpus": CORPUS_NAME,
        "generator": "emoshift.data.synthetic",
        "version": GENERATOR_VERSION,
        "seed": int(seed),
        "domains": [d.to_dict() for d in domains],
        "speakers_per_domain": int(speakers_per_domain),
        "utterances_per_emotion": int(utterances_per_emotion),
        "emotions": list(emotions),
        "sample_rate": int(sample_rate),
    }


def _utterance(
    out_dir: Path,
    domain: SyntheticDomain,
    speaker: Speaker,
    emotion: str,
    index: int,
    seed: int,
    sample_rate: int,
) -> dict:
    """Synthesise and write one utterance; its corpus-table row."""
    draw = rng(seed, "utterance", domain.name, speaker.speaker_id, emotion, index)
    avd, intensity = _sample_avd(emotion, domain, draw)
    audio = channel(
        voice(speaker, domain, avd, draw, sample_rate), speaker, domain, draw, sample_rate
    )
    path = out_dir / "wav" / domain.name / speaker.speaker_id
    path.mkdir(parents=True, exist_ok=True)
    path = path / f"{speaker.speaker_id}_{emotion}_{index:03d}.wav"
    sf.write(path, audio.astype(np.float32), sample_rate, subtype="PCM_16")
    return {
        "file": str(path),
        "corpus": CORPUS_NAME,
        "speaker": speaker.speaker_id,
        "gender": speaker.gender,
        "language": LANGUAGE,
        "emotion": emotion,
        "arousal": avd[0],
        "valence": avd[1],
        "dominance": avd[2],
        "arousal_raw": 3.0 + 2.0 * avd[0],
        "valence_raw": 3.0 + 2.0 * avd[1],
        "dominance_raw": 3.0 + 2.0 * avd[2],
        "elicitation": domain.elicitation,
        "session": speaker.session,
        "duration": len(audio) / sample_rate,
        "domain": domain.name,
        "intensity": intensity,
    }


def generate_corpus(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    domains: Iterable[str | SyntheticDomain] = ("acted", "spontaneous"),
    speakers_per_domain: int = 8,
    utterances_per_emotion: int = 12,
    emotions: Sequence[str] = ("anger", "happiness", "sadness", "neutral"),
    sample_rate: int = SAMPLE_RATE,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Generate the synthetic corpus in ``out_dir`` and return its corpus table.

    Writes ``wav/<domain>/<speaker>/<speaker>_<emotion>_<nnn>.wav`` (mono PCM_16),
    ``corpus.parquet`` (the table) and ``manifest.json`` (the parameters). A folder that
    already holds a complete corpus with the same parameters is reused as it is; one that
    holds a synthetic corpus with other parameters has its ``wav`` folder replaced.

    Args:
        out_dir: folder to write into (created if needed).
        seed: the random seed; the same seed gives byte-identical files.
        domains: names from :data:`DOMAINS` or :class:`SyntheticDomain` objects.
        speakers_per_domain: speakers per domain, alternately female and male.
        utterances_per_emotion: utterances per speaker and emotion.
        emotions: emotions to express, names from :data:`EMOTION_PROTOTYPES`.
        sample_rate: sampling rate of the WAV files in Hz.
        progress: draw a progress bar (``None``: on a terminal only).

    Returns:
        The corpus table (see :mod:`emoshift.data.table`) with extra columns ``domain``
        and ``intensity`` (how strongly the utterance expresses its emotion's prototype).

    Example:
        >>> import tempfile
        >>> table = generate_corpus(tempfile.mkdtemp(), speakers_per_domain=1,
        ...                         utterances_per_emotion=1, progress=False)
        >>> len(table), table["speaker"].nunique()
        (8, 2)
    """
    resolved = resolve_domains(domains)
    emotions = list(emotions) if not isinstance(emotions, str) else emotions
    _check_arguments(emotions, speakers_per_domain, utterances_per_emotion, sample_rate)
    out_dir = Path(out_dir).resolve()
    manifest = _manifest(
        seed, resolved, speakers_per_domain, utterances_per_emotion, emotions, sample_rate
    )
    reused = _reuse(out_dir, manifest)
    if reused is not None:
        return reused
    if (out_dir / MANIFEST_NAME).is_file():  # an older synthetic corpus: replace its audio
        (out_dir / MANIFEST_NAME).unlink()
        shutil.rmtree(out_dir / "wav", ignore_errors=True)
    speakers = [
        (domain, make_speaker(domain, s, seed))
        for domain in resolved
        for s in range(speakers_per_domain)
    ]
    jobs = [
        (domain, speaker, emotion, u)
        for domain, speaker in speakers
        for emotion in emotions
        for u in range(utterances_per_emotion)
    ]
    rows = [
        _utterance(out_dir, domain, speaker, emotion, index, seed, sample_rate)
        for domain, speaker, emotion, index in progress_bar(
            jobs, desc="synthetic corpus", enabled=progress, unit="utt"
        )
    ]
    table = make_table(rows)
    write_table(table, out_dir / TABLE_NAME)
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return table


def generate_preset(
    out_dir: str | os.PathLike,
    name: str = "demo",
    *,
    seed: int = 0,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Generate one of the named corpus sizes in :data:`PRESETS` (``demo``, ``tiny``, ...).

    Example:
        >>> import tempfile
        >>> len(generate_preset(tempfile.mkdtemp(), "tiny", progress=False))
        48
    """
    if name not in PRESETS:
        raise ValueError(f"unknown synthetic preset {name!r}; use one of {sorted(PRESETS)}")
    return generate_corpus(out_dir, seed=seed, progress=progress, **PRESETS[name])
