"""Cached runs start no workers and read no audio; extraction works from a plain script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emoshift.features import extract as extract_module
from emoshift.features import extract_features, hash_file
from emoshift.features import hash_memo as memo_module
from emoshift.features.cache import FeatureCache, read_npy
from emoshift.features.functionals import Functionals
from emoshift.features.hash_memo import MEMO_FILE, FileHashMemo
from emoshift.features.workers import _guarded_lines

ROOT = Path(__file__).resolve().parents[1]


def _tone(f0: float, seconds: float = 0.6) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * f0 * t) * np.hanning(t.size)).astype(np.float32)


@pytest.fixture
def files(tmp_path: Path) -> list[str]:
    paths = []
    for i, f0 in enumerate((120.0, 170.0, 230.0)):
        path = tmp_path / f"utt{i}.wav"
        sf.write(path, _tone(f0), 16000)
        paths.append(str(path))
    return paths


@pytest.fixture
def settle_now(monkeypatch) -> None:
    """Remember digests of files written a moment ago (the tests cannot wait 2 s)."""
    monkeypatch.setattr(memo_module, "SETTLE_SECONDS", 0.0)


class _NoPool:
    def __init__(self, *args, **kwargs) -> None:
        raise AssertionError("a worker pool was started although every row is cached")


class _NoAudio:
    def __call__(self, *args, **kwargs):
        raise AssertionError("audio was read or an extractor built although all is cached")


def test_cached_run_starts_no_pool_and_reads_no_audio(files, tmp_path, monkeypatch, settle_now):
    cache = tmp_path / "cache"
    first = extract_features(files, "egemaps", cache_dir=cache, n_jobs=1, progress=False)
    assert json.loads((cache / MEMO_FILE).read_text())["files"].keys() == set(files)
    monkeypatch.setattr(extract_module, "ProcessPoolExecutor", _NoPool)
    monkeypatch.setattr(memo_module, "hash_file", _NoAudio())
    monkeypatch.setattr(Functionals, "feature_names", property(_NoAudio()))  # names cached
    again = extract_features(files, "egemaps", cache_dir=cache, n_jobs=2, progress=False)
    assert (again.n_cached, again.n_extracted) == (3, 0)
    np.testing.assert_array_equal(again.features.to_numpy(), first.features.to_numpy())


def test_only_missing_files_go_to_the_workers(files, tmp_path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    extract_features(files[:2], "egemaps", cache_dir=cache, n_jobs=1, progress=False)
    submitted: list[str] = []
    real_job_call = extract_module._FileJob.__call__

    def spy(self, path, pending):
        submitted.append(path)
        return real_job_call(self, path, pending)

    monkeypatch.setattr(extract_module._FileJob, "__call__", spy)
    result = extract_features(files, "egemaps", cache_dir=cache, n_jobs=2, progress=False)
    assert submitted == [files[2]]  # one file to extract: no pool for it either
    assert (result.n_cached, result.n_extracted) == (2, 1)


def test_edited_audio_is_hashed_again(files, tmp_path, settle_now) -> None:
    cache = tmp_path / "cache"
    extract_features(files, "egemaps", cache_dir=cache, n_jobs=1, progress=False)
    target = Path(files[1])
    before = target.stat()
    time.sleep(0.05)
    sf.write(target, _tone(400.0), 16000)  # same length, so the same size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime
    assert target.stat().st_size == before.st_size
    again = extract_features(files, "egemaps", cache_dir=cache, n_jobs=1, progress=False)
    assert (again.n_cached, again.n_extracted) == (2, 1)
    assert FileHashMemo(cache).sha256(target) == hash_file(target)


def test_moved_corpus_and_replaced_file_are_hashed_again(files, tmp_path, settle_now) -> None:
    memo = FileHashMemo(tmp_path / "cache")
    digests = [memo.sha256(path) for path in files]
    memo.save()
    Path(files[0]).unlink()
    Path(files[2]).rename(files[0])  # another file (inode) under a remembered name
    memo = FileHashMemo(tmp_path / "cache")
    assert memo.sha256(files[0]) == digests[2] and memo.n_hashed == 1
    assert memo.sha256(files[1]) == digests[1] and memo.n_hashed == 1


def test_freshly_changed_files_are_not_remembered(files, tmp_path) -> None:
    memo = FileHashMemo(tmp_path / "cache")
    memo.sha256(files[0])
    memo.save()
    assert not (tmp_path / "cache" / MEMO_FILE).exists()  # written < SETTLE_SECONDS ago
    assert memo.sha256(files[0]) == hash_file(files[0]) and memo.n_hashed == 2


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '["a list"]',
        '{"format": "someone-else/9", "files": {}}',
        '{"format": "emoshift-file-hashes/1", "files": []}',
        "BAD_ENTRY",
    ],
    ids=["not-json", "not-object", "other-format", "files-not-object", "bad-entry"],
)
def test_malformed_memo_is_ignored_and_rewritten(files, tmp_path, settle_now, content) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    if content == "BAD_ENTRY":  # the right size and times, but not a digest
        stat = os.stat(files[0])
        signature = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]
        entry = {files[0]: [*signature, "__import__('os').system('false')"]}
        content = json.dumps({"format": memo_module.MEMO_FORMAT, "files": entry})
    (cache / MEMO_FILE).write_text(content)
    memo = FileHashMemo(cache)
    assert memo.sha256(files[0]) == hash_file(files[0]) and memo.n_hashed == 1
    memo.save()
    assert FileHashMemo(cache).sha256(files[0]) == hash_file(files[0])
    assert json.loads((cache / MEMO_FILE).read_text())["format"] == memo_module.MEMO_FORMAT


def test_unwritable_memo_only_costs_time(files, tmp_path, settle_now, monkeypatch) -> None:
    real_mkstemp = tempfile.mkstemp

    def refuse_memo(*args, prefix: str = "", **kwargs):
        if prefix.startswith(f".{MEMO_FILE}"):
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refuse_memo)
    result = extract_features(files, "egemaps", cache_dir=tmp_path / "c", n_jobs=1)
    assert result.n_extracted == 3 and not (tmp_path / "c" / MEMO_FILE).exists()


def test_guard_detection_reads_the_script() -> None:
    source = textwrap.dedent(
        """\
        import x
        x.run()
        if '__main__' == __name__ and True:
            x.run()
        else:
            x.run()
        if __name__ == "__main__":

            x.run(
                1,
            )
        """
    )
    assert _guarded_lines(source) == [(4, 4), (9, 11)]


def _write_script(folder: Path, guarded: bool) -> Path:
    cache = folder / ("cache-guarded" if guarded else "cache")
    body = textwrap.dedent(
        f"""\
        import sys
        from emoshift.data.synthetic import generate_preset
        from emoshift.experiment.features import table_features

        table = generate_preset({str(folder / "corpus")!r}, "tiny", seed=0, progress=False)
        kept, X = table_features(table, "egemaps", domain_column="elicitation",
                                 cache_dir={str(cache)!r}, n_jobs=2, progress=False)
        print("rows", X.shape[0], X.shape[1], round(float(abs(X).sum()), 3))
        """
    )
    if guarded:
        body = "def main():\n" + textwrap.indent(body, "    ")
        body += 'if __name__ == "__main__":\n    main()\n'
    script = folder / ("guarded.py" if guarded else "plain.py")
    script.write_text(body)
    return script


def _run(script: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EMOSHIFT_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.mark.slow
def test_plain_script_without_main_guard_extracts_and_says_why(tmp_path: Path) -> None:
    script = _write_script(tmp_path, guarded=False)
    first = _run(script)
    assert first.returncode == 0, first.stderr
    assert "ScriptWithoutMainGuardWarning" in first.stderr
    assert f"{script}:6" in first.stderr and "__main__" in first.stderr
    assert first.stdout.startswith("rows 48 88 ")
    second = _run(script)  # everything cached: no workers needed, so nothing to warn about
    assert second.returncode == 0, second.stderr
    assert "Warning" not in second.stderr and second.stdout == first.stdout
    guarded = _run(_write_script(tmp_path, guarded=True))  # a new cache: two workers
    assert guarded.returncode == 0 and "Warning" not in guarded.stderr
    assert guarded.stdout == first.stdout


@pytest.mark.parametrize(
    "array",
    [
        np.arange(88, dtype=np.float32),
        np.arange(41 * 7, dtype=np.float64).reshape(7, 41),
        np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
        np.zeros((0, 41), dtype=np.float32),
    ],
    ids=["vector", "frames", "fortran", "empty"],
)
def test_read_npy_reads_what_numpy_writes(tmp_path: Path, array: np.ndarray) -> None:
    for version in ((1, 0), (2, 0)):
        path = tmp_path / f"a{version[0]}.npy"
        with open(path, "wb") as file:
            np.lib.format.write_array(file, array, version=version)
        loaded = read_npy(path)
        np.testing.assert_array_equal(loaded, np.load(path))
        assert loaded.dtype == array.dtype and loaded.flags.writeable


@pytest.mark.bad_input
def test_read_npy_refuses_object_arrays_and_truncated_files(tmp_path: Path) -> None:
    pickled = tmp_path / "object.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="object array"):
        read_npy(pickled)
    truncated = tmp_path / "short.npy"
    np.save(truncated, np.arange(10.0))
    truncated.write_bytes(truncated.read_bytes()[:-8])
    with pytest.raises(ValueError, match="truncated"):
        read_npy(truncated)
    (tmp_path / "text.npy").write_text("print('hello')")
    with pytest.raises(ValueError, match="not an .npy file"):
        read_npy(tmp_path / "text.npy")


@pytest.mark.bad_input
@pytest.mark.parametrize("content", ["{not json", "[]", '["f0", 3]', '{"a": 1}'])
def test_malformed_names_file_is_recomputed(tmp_path: Path, content: str) -> None:
    cache = FeatureCache(tmp_path)
    path = tmp_path / "names" / f"{'cd' * 32}.json"
    path.parent.mkdir()
    path.write_text(content)
    assert cache.feature_names("cd" * 32, lambda: ["f0", "jitter"]) == ["f0", "jitter"]
    assert json.loads(path.read_text()) == ["f0", "jitter"]
