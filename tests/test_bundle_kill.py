"""Outputs survive a kill and are never written where they destroy something (issue 23,
items 2 and 3): ``adapt --overwrite`` and ``train --overwrite`` leave ``--out`` holding a
complete bundle at every instant; ``predict`` writes its table through a temporary file,
refuses an existing table without ``--overwrite``, any path inside a bundle or equal to
an input, and a suffix it does not write. The kill tests kill real emoshift processes
(SIGKILL) while they pause at the critical step (``EMOSHIFT_TEST_PAUSE``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from bundle_parts import kill_at, small_model, voice_clips
from test_bundle import CONFIG

from emoshift.bundle import load
from emoshift.bundle.predict import check_table_out
from emoshift.bundle.replace import RecoveredWarning
from emoshift.cli import main


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> Path:
    """model/ (a small bundle), clips/ (12 voice-like clips) and a warm feature cache."""
    folder = tmp_path_factory.mktemp("kill")
    small_model(folder / "model")
    voice_clips(folder / "clips")
    model = load(folder / "model")
    model.predict(sorted((folder / "clips").glob("*.wav")), cache_dir=folder / "cache", n_jobs=1)
    return folder


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".emoshift-" in p.name)


def _adapt(parts: Path, out: Path) -> list[str]:
    return [
        "-m", "emoshift", "adapt", str(parts / "model"), str(parts / "clips"), "--out", str(out),
        "--domain", "calls", "--overwrite", "--jobs", "1", "--cache-dir", str(parts / "cache"),
    ]  # fmt: skip


@pytest.mark.bad_input
@pytest.mark.parametrize(("step", "holds"), [("staged", "old"), ("exchanged", "new")])
def test_a_kill_during_adapt_overwrite_leaves_a_complete_bundle(
    parts: Path, tmp_path: Path, step: str, holds: str
) -> None:
    out = Path(shutil.copytree(parts / "model", tmp_path / "out"))
    seen = []
    kill_at(step, _adapt(parts, out), tmp_path / "marker", lambda: seen.append(load(out)))
    after = load(out)
    for model in (seen[0], after):  # while paused and after the kill
        assert ("calls" in model.domains()) is (holds == "new")
    assert after.normalisation["target_domain"] == ("calls" if holds == "new" else "studio")
    assert _leftovers(tmp_path)  # the killed writer's staging folder ...
    load(out).save(out, overwrite=True)
    assert not _leftovers(tmp_path)  # ... is removed by the next write


@pytest.mark.bad_input
def test_a_kill_during_train_overwrite_leaves_the_new_bundle(parts: Path, tmp_path: Path) -> None:
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(CONFIG))
    out = Path(shutil.copytree(parts / "model", tmp_path / "out"))
    before = (out / "estimator.safetensors").read_bytes()
    args = ["-m", "emoshift", "train", str(tmp_path / "exp.yaml"), "--method", "dann"]
    kill_at("exchanged", [*args, "--out", str(out), "--overwrite"], tmp_path / "marker")
    assert load(out).method == "dann"  # the new bundle, complete
    assert (out / "estimator.safetensors").read_bytes() != before


FALLBACK = """
import errno, sys
from emoshift.bundle import load, replace
def unsupported(a, b):
    raise OSError(errno.ENOSYS, "no exchange here")
replace._exchange = unsupported
model = load(sys.argv[1])
model.training["note"] = "new"
model.save(sys.argv[1], overwrite=True)
"""


@pytest.mark.bad_input
def test_without_an_atomic_exchange_a_kill_between_the_renames_is_recovered(
    parts: Path, tmp_path: Path
) -> None:
    """Where folders cannot be exchanged, the old bundle is renamed aside first; a kill
    before the new one is renamed in leaves it aside, and the next read puts it back."""
    out = Path(shutil.copytree(parts / "model", tmp_path / "out"))
    kill_at("moved-aside", ["-c", FALLBACK, str(out)], tmp_path / "marker")
    assert not out.exists()
    assert any(name.endswith("-replaced") for name in _leftovers(tmp_path))
    with pytest.warns(RecoveredWarning, match="an interrupted write had moved this bundle"):
        model = load(out)
    assert "note" not in model.training  # the complete old bundle
    model.save(out, overwrite=True)
    assert not _leftovers(tmp_path)


@pytest.mark.bad_input
def test_a_bundle_moved_aside_is_kept_until_a_complete_one_is_in_place(
    parts: Path, tmp_path: Path
) -> None:
    """A killed fallback write left the only good bundle aside, then something made an
    empty ``out``: a refused write must not delete the bundle kept aside."""
    out = tmp_path / "out"
    aside = tmp_path / f".out.emoshift-{_dead_pid()}-replaced"
    shutil.copytree(parts / "model", aside)
    out.mkdir()
    model = load(parts / "model")
    with pytest.warns(RecoveredWarning, match="it is kept there"):
        with pytest.raises(FileExistsError, match="already exists"):
            model.save(out)
    assert load(aside).method == "source_only"
    with pytest.warns(RecoveredWarning, match="it is kept there"):
        model.save(out, overwrite=True)  # the user asked: a complete bundle is in place ...
    load(out).save(out, overwrite=True)
    assert not aside.exists()  # ... and the next write removes the old one


@pytest.mark.bad_input
def test_a_bundle_left_aside_makes_out_taken_before_any_work(
    parts: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """``--out`` missing because a killed write left its bundle aside is not free: the
    bundle is put back and the command refused up front, not after the whole adaptation."""
    import emoshift.bundle.adapt  # noqa: PLC0415

    out = tmp_path / "out"
    shutil.copytree(parts / "model", tmp_path / f".out.emoshift-{_dead_pid()}-replaced")
    monkeypatch.setattr(emoshift.bundle.adapt, "adapt_model", _no_work)
    args = ["adapt", str(parts / "model"), str(parts / "clips"), "--out", str(out)]
    with pytest.warns(RecoveredWarning, match="it is back in place"):
        assert main([*args, "--domain", "x"]) == 2
    assert f"--out {out} already exists; pass --overwrite" in capsys.readouterr().err
    assert load(out).method == "source_only" and not _leftovers(tmp_path)


def _no_work(*args: object, **kwargs: object) -> None:
    raise AssertionError("adapt started its work before checking --out")


def _dead_pid() -> int:
    """The id of a process that has ended."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(gone.stdout)


@pytest.mark.bad_input
def test_overwrite_replaces_only_a_bundle(parts: Path, tmp_path: Path) -> None:
    """``--overwrite`` pointed at a folder of other files refuses instead of deleting it."""
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    model = load(parts / "model")
    with pytest.raises(FileExistsError, match="not a model bundle.*choose another --out"):
        model.save(precious, overwrite=True)
    assert (precious / "chapter1.tex").read_text() == "years of work"
    (precious / "SHA256SUMS").write_text("checksums of a download\n")
    with pytest.raises(FileExistsError, match="not a model bundle"):
        model.save(precious, overwrite=True)
    args = ["adapt", str(parts / "model"), str(parts / "clips"), "--out", str(precious)]
    assert main([*args, "--overwrite", "--domain", "x"]) == 2  # refused before extraction
    assert sorted(p.name for p in precious.iterdir()) == ["SHA256SUMS", "chapter1.tex"]
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(FileExistsError, match="is not a folder; --overwrite replaces only"):
        model.save(tmp_path / "notes.txt", overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "a file"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load(model.save(empty, overwrite=True)).method == "source_only"


# ------------------------------------------------------------------ predict --out


def _predict(parts: Path, out: Path, *extra: str) -> list[str]:
    return [
        "predict", str(parts / "model"), str(parts / "clips"), "--out", str(out),
        "--jobs", "1", "--cache-dir", str(parts / "cache"), *extra,
    ]  # fmt: skip


@pytest.mark.bad_input
def test_a_kill_while_predict_writes_leaves_the_old_table(parts: Path, tmp_path: Path) -> None:
    out = tmp_path / "predictions.csv"
    old = "file,prediction\n" + "".join(f"clip{i}.wav,anger\n" for i in range(3000))
    out.write_text(old)
    args = ["-m", "emoshift", *_predict(parts, out, "--overwrite")]
    kill_at("file-written", args, tmp_path / "marker")
    assert out.read_text() == old
    assert _leftovers(tmp_path)  # the complete temporary table, never renamed
    assert main(_predict(parts, out, "--overwrite")) == 0
    assert len(pd.read_csv(out)) == 12 and not _leftovers(tmp_path)


@pytest.mark.bad_input
def test_predict_refuses_to_write_into_its_bundle(parts: Path, tmp_path: Path, capsys) -> None:
    bundle = Path(shutil.copytree(parts / "model", tmp_path / "model"))
    manifest = (bundle / "manifest.json").read_bytes()
    for out, flags in ((bundle / "manifest.json", ["--overwrite"]), (bundle / "p.csv", [])):
        args = _predict(parts, out, *flags)
        args[1] = str(bundle)
        assert main(args) == 2
        assert f"lies inside the model bundle {bundle}" in capsys.readouterr().err
    assert (bundle / "manifest.json").read_bytes() == manifest and load(bundle)
    assert not (bundle / "p.csv").exists()
    (bundle / "SHA256SUMS").unlink()  # a damaged bundle is still known by its manifest
    with pytest.raises(ValueError, match="lies inside the model bundle"):
        check_table_out(bundle / "p.csv", [])


def test_predict_writes_beside_checksums_that_are_not_a_bundle(tmp_path: Path) -> None:
    """Only a folder holding an emoshift manifest is a bundle to protect, as for
    ``--overwrite``: a downloads folder with its own SHA256SUMS (here, or above ``--out``)
    takes a prediction table."""
    downloads = tmp_path / "downloads"
    (downloads / "run1").mkdir(parents=True)
    (downloads / "SHA256SUMS").write_text("checksums of a download\n")
    for out in (downloads / "p.csv", downloads / "run1" / "p.csv"):
        assert check_table_out(out, []) == out


@pytest.mark.bad_input
def test_predict_refuses_an_existing_table_without_overwrite(
    parts: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "p.csv"
    out.write_text("keep me\n")
    assert main(_predict(parts, out)) == 2
    assert f"--out {out} already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "keep me\n"
    assert main(_predict(parts, out, "--overwrite")) == 0
    assert len(pd.read_csv(out)) == 12


@pytest.mark.bad_input
def test_predict_refuses_an_input_as_its_output(parts: Path, tmp_path: Path, capsys) -> None:
    table = tmp_path / "clips.csv"
    pd.DataFrame({"file": sorted(map(str, (parts / "clips").glob("*.wav")))}).to_csv(table)
    before = table.read_bytes()
    args = _predict(parts, table, "--overwrite")
    args[2] = str(table)
    assert main(args) == 2
    assert "is also an input" in capsys.readouterr().err
    assert table.read_bytes() == before


@pytest.mark.bad_input
@pytest.mark.parametrize("name", ["p.xlsx", "p", "p.json"])
def test_predict_refuses_a_format_it_does_not_write(
    parts: Path, tmp_path: Path, name: str, capsys
) -> None:
    assert main(_predict(parts, tmp_path / name)) == 2
    err = capsys.readouterr().err
    assert "written as .csv or .parquet" in err and "Traceback" not in err
    assert not (tmp_path / name).exists()


def test_parquet_tables_are_written_whole(parts: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.PARQUET"
    assert main(_predict(parts, out)) == 0
    table = pd.read_parquet(out)
    assert len(table) == 12 and (table["error"] == "").all()
