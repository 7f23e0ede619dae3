"""Reading audio files into mono float32 signals at a fixed sample rate.

Every extractor in :mod:`emoshift.features` works on the signal returned by
:func:`read_audio`, so resampling and channel mixdown happen here, once, in the same way
for every feature set. Files that cannot give a usable signal (missing, not a regular
file, empty, silent, corrupt, truncated, shorter than :data:`MIN_DURATION`, non-finite
samples) raise :class:`AudioError`,
whose message names the file, the problem and what to do about it; the kinds of problem
are declared once, in :data:`AUDIO_PROBLEMS`.

Example:
    >>> import tempfile, numpy as np, soundfile as sf
    >>> path = tempfile.mkdtemp() + "/tone.wav"
    >>> t = np.arange(22050) / 44100
    >>> sf.write(path, np.stack([np.sin(2 * np.pi * 220 * t)] * 2, axis=1), 44100)
    >>> signal = read_audio(path)  # stereo 44.1 kHz -> mono 16 kHz
    >>> signal.dtype, signal.shape
    (dtype('float32'), (8000,))
"""

from __future__ import annotations

import os
import re
import stat
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from emoshift.features.segments import cut, segment_name

SILENCE_PEAK: float = 1e-4
"""Peak absolute amplitude (full scale = 1.0) below which a file counts as silent (-80 dBFS)."""

MIN_DURATION: float = 0.1
"""Shortest usable utterance in seconds: below it no standard openSMILE set gives finite
functionals (eGeMAPS needs about 60 ms, IS10 80 ms), so every extractor rejects it."""

AUDIO_PROBLEMS: dict[str, str] = {
    "missing": "audio file(s) that do not exist",
    "not_a_file": "path(s) that are not regular files (a FIFO, a device, a folder)",
    "empty": "empty audio file(s) (0 bytes)",
    "undecodable": "audio file(s) that cannot be decoded (corrupt or unknown format)",
    "truncated": "audio file(s) shorter than their header says (truncated)",
    "outside": "segment(s) reaching past the end of their audio file",
    "no_samples": "audio file(s) without samples",
    "too_short": f"audio file(s) shorter than {MIN_DURATION:g} s",
    "non_finite": "audio file(s) with NaN or infinite samples",
    "silent": "silent audio file(s)",
}
"""The kinds of unusable audio :func:`read_audio` rejects, with how they are described."""


class AudioError(ValueError):
    """An audio file gives no usable signal; the message names the file and what to do.

    ``kind`` is one of :data:`AUDIO_PROBLEMS` when the file itself is unusable (``None``
    for problems found later, e.g. by an extractor).
    """

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


def check_regular_file(path: str | os.PathLike) -> None:
    """Raise :class:`AudioError` unless ``path`` is a regular file (after symlinks).

    Checked before anything opens the file: reading a FIFO waits for a writer and a
    device such as ``/dev/zero`` never ends, so neither is ever opened as audio.
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        raise AudioError(
            f"{path}: audio file does not exist; check the path or drop the row", "missing"
        ) from None
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "a FIFO, device or socket"
        raise AudioError(
            f"{path}: not a regular file ({what}), so it is not read as audio; name an "
            "audio file or drop the row",
            "not_a_file",
        )


_DATA_LOG = re.compile(r"^data\s*:\s*(\d+) \(should be (\d+)\)", re.MULTILINE)
_STREAMED_SIZE = 0xFFFFFFFF
"""The data size a streaming WAV writer leaves in the header: unknown, not truncated."""


def _truncation(path: Path) -> str | None:
    """``"N of the M data bytes its header declares"`` for a WAV file cut short, else
    ``None`` (libsndfile reads what is there and notes the mismatch in its log)."""
    match = _DATA_LOG.search(sf.info(str(path)).extra_info)
    if match is None:
        return None
    declared, present = int(match[1]), int(match[2])
    if present >= declared or declared == _STREAMED_SIZE:
        return None
    return f"{present} of the {declared} data bytes its header declares"


def load_samples(
    path: str | os.PathLike,
    *,
    silence_peak: float = SILENCE_PEAK,
    span: tuple[float, float] | None = None,
) -> tuple[np.ndarray, int]:
    """The mono float32 signal of ``path`` at its own rate, and that rate, once checked.

    With ``span`` (seconds, :mod:`emoshift.features.segments`) only those samples are
    kept, cut at the file's own rate before any check of length or silence, so a segment
    gives what the same span cut into a file of its own would give.

    Raises :class:`AudioError` (with its ``kind``) for every problem in
    :data:`AUDIO_PROBLEMS`; :func:`read_audio` and ``emoshift corpus info`` both use it,
    so ``info`` reports exactly the files feature extraction will skip.

    Example:
        >>> import tempfile, numpy as np, soundfile as sf
        >>> path = tempfile.mkdtemp() + "/click.wav"
        >>> sf.write(path, np.ones(160), 16000)  # 10 ms
        >>> try:
        ...     load_samples(path)
        ... except AudioError as error:
        ...     print(error.kind)
        too_short
    """
    path = Path(path)
    check_regular_file(path)
    if path.stat().st_size == 0:
        raise AudioError(
            f"{path}: audio file is empty (0 bytes); re-export it or drop the row", "empty"
        )
    try:
        data, native_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as error:
        raise AudioError(
            f"{path}: audio file cannot be decoded ({error}); it is corrupt or in a format "
            "libsndfile does not read. Re-encode it as WAV or FLAC (e.g. "
            "`ffmpeg -i IN -ar 16000 OUT.wav`) or drop the row",
            "undecodable",
        ) from error
    if data.shape[0] == 0:
        raise AudioError(
            f"{path}: audio file holds no samples; re-export it or drop the row", "no_samples"
        )
    if (shortfall := _truncation(path)) is not None:
        raise AudioError(
            f"{path}: audio file is truncated (it holds {shortfall}); copy or export it again, "
            "or drop the row",
            "truncated",
        )
    if span is not None:  # from here on, messages name the segment
        data = _segment(data, int(native_rate), path, span)
        path = Path(segment_name(str(path), *span))
    if data.shape[0] < MIN_DURATION * native_rate:
        raise AudioError(
            f"{path}: audio is {1000 * data.shape[0] / native_rate:.0f} ms long, shorter than "
            f"{MIN_DURATION:g} s (truncated or cut too short); re-export it or drop the row",
            "too_short",
        )
    signal = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(signal)):
        raise AudioError(
            f"{path}: audio holds NaN or infinite samples; re-export it or drop the row",
            "non_finite",
        )
    peak = float(np.max(np.abs(signal)))
    if peak < silence_peak:
        raise AudioError(
            f"{path}: audio is silent (peak amplitude {peak:.3g} < {silence_peak:g}); "
            "check the recording or drop the row",
            "silent",
        )
    return signal, int(native_rate)


def _segment(
    data: np.ndarray, sample_rate: int, path: Path, span: tuple[float, float]
) -> np.ndarray:
    """The samples of ``span``; :class:`AudioError` if it reaches past the file's end."""
    length = data.shape[0] / sample_rate
    if span[1] > length:
        raise AudioError(
            f"{segment_name(str(path), *span)}: the segment ends after its audio file "
            f"({length:.3f} s); correct the segment's times or drop the row",
            "outside",
        )
    return cut(data, sample_rate, span)


def read_audio(
    path: str | os.PathLike,
    sample_rate: int = 16000,
    *,
    silence_peak: float = SILENCE_PEAK,
    span: tuple[float, float] | None = None,
) -> np.ndarray:
    """Read ``path`` as a mono float32 signal at ``sample_rate`` Hz.

    With ``span`` (seconds) only that segment is read, cut at the file's own rate
    before resampling (:func:`load_samples`).

    Multi-channel audio is mixed down by averaging the channels; audio at another rate
    is resampled with a polyphase filter (:func:`scipy.signal.resample_poly`), so a file
    of ``n`` samples at rate ``r`` gives ``ceil(n * sample_rate / r)`` samples.

    Raises:
        AudioError: the file does not exist, is not a regular file, is empty (zero
            bytes or zero samples), cannot be decoded, is truncated, is shorter than
            :data:`MIN_DURATION`, holds NaN/inf samples, or is silent (peak amplitude
            below ``silence_peak``); see :func:`load_samples`.

    Example:
        >>> import tempfile, numpy as np, soundfile as sf
        >>> path = tempfile.mkdtemp() + "/silence.wav"
        >>> sf.write(path, np.zeros(1600), 16000)
        >>> read_audio(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        emoshift.features.audio.AudioError: ...wav: audio is silent (peak amplitude 0 ...
    """
    signal, native_rate = load_samples(path, silence_peak=silence_peak, span=span)
    if native_rate != sample_rate:
        from scipy.signal import resample_poly  # imported here: scipy.signal takes seconds

        divisor = gcd(int(native_rate), int(sample_rate))
        signal = resample_poly(signal, sample_rate // divisor, native_rate // divisor)
    return np.ascontiguousarray(signal, dtype=np.float32)
