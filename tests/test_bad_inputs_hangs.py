"""Inputs that used to hang or grow without bound (issue 23, item 5) and file names that
are not UTF-8 (item 7).

Only regular files are read as audio: a FIFO named ``*.wav`` waits forever for a writer
and ``/dev/zero`` never ends, so either one, opened, hangs the run. YAML aliases are
measured as if written out and refused past a bound, so a few hundred bytes of "billion
laughs" cannot grow into gigabytes. The cases
that hung run in a subprocess under a timeout, so that a regression fails, not hangs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from emoshift.bundle import Model
from emoshift.cli import main
from emoshift.methods import get_method

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 240
"""Seconds a subprocess may take; far above its normal time, far below a hang's."""

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


def emoshift(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m emoshift ARGS`` in a subprocess that fails the test if it hangs."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "emoshift", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def tone(path: Path, hz: float = 180.0, seconds: float = 0.5) -> Path:
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, 0.3 * np.sin(2 * np.pi * hz * t) * np.hanning(t.size), 16000)
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A small eGeMAPS model (two classes, no normalisation) saved as a bundle."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 88)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "anger", "neutral")
    estimator = get_method(
        "source_only", hidden_sizes=(4,), max_epochs=2, random_state=0, device="cpu"
    ).fit(X, y)
    folder = tmp_path_factory.mktemp("bundle") / "model"
    return Model.from_parts(estimator, "source_only", "egemaps", None).save(folder)


@pytest.mark.bad_input
@needs_fifo
def test_predict_reads_no_fifo_and_no_device(bundle, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    tone(clips / "a.wav")
    os.mkfifo(clips / "b.wav")
    out = tmp_path / "p.csv"
    done = emoshift(
        "predict",
        str(bundle),
        "clips",
        "/dev/zero",
        "--out",
        str(out),
        "--jobs",
        "1",
        "--cache-dir",
        str(tmp_path / "cache"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, keep_default_na=False).set_index("file")
    assert table.loc["clips/a.wav", "error"] == ""
    assert table.loc["clips/a.wav", "prediction"] in ("anger", "neutral")
    for path in ("clips/b.wav", "/dev/zero"):
        assert table.loc[path, "error"].startswith(f"{path}: not a regular file")
    assert "skipped 2 file(s)" in done.stdout


@pytest.mark.bad_input
@needs_fifo
def test_corpus_info_names_a_fifo_in_the_corpus_folder(tmp_path):
    (tmp_path / "wav").mkdir()
    tone(tmp_path / "wav" / "03a01Wa.wav")
    os.mkfifo(tmp_path / "wav" / "03a01Fa.wav")
    done = emoshift("corpus", "info", ".", "--format", "emodb", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # 1: problems found
    assert f"{tmp_path / 'wav' / '03a01Fa.wav'}: not a regular file" in done.stdout
    assert "sample rates: 16000 Hz (1 files)" in done.stdout


BILLION_LAUGHS = "\n".join(
    ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
)


@pytest.mark.bad_input
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_yaml_alias_bomb_in_corpus_options_is_refused(tmp_path, dry_run):
    config = {
        "name": "bomb",
        "corpora": {"s": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}},
        "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
        "methods": {"source_only": {"max_epochs": 1}},
    }
    text = yaml.safe_dump(config).replace("preset: tiny", "preset: tiny\n      laughs: *a8")
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS + "\n" + text)
    assert len(BILLION_LAUGHS) < 1000
    done = emoshift("run", str(path), *(["--dry-run"] if dry_run else []), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{path}: not valid YAML: YAML aliases expand this text past 100000" in done.stderr
    assert not (tmp_path / "corpus").exists()


@pytest.mark.bad_input
def test_loader_options_on_the_command_line_bound_aliases(tmp_path, capsys):
    levels = ["&a0 [" + ", ".join(["0"] * 10) + "]"]
    levels += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 6)]
    (tmp_path / "t.csv").write_text("file\n")
    args = ["corpus", "info", str(tmp_path / "t.csv"), "--format", "csv"]
    assert main([*args, "--option", f"columns=[{', '.join(levels)}]"]) == 2
    err = capsys.readouterr().err
    assert "--option 'columns=[&a0" in err and "expand this text past 100000 values" in err


def test_aliases_within_the_bound_still_load():
    """A config that shares one setting through an alias (as configs/*.yaml do) loads."""
    from emoshift.safe_yaml import load_yaml  # noqa: PLC0415

    text = "shared: &encoder {hidden_sizes: [8], dropout: 0.1}\nmethods: {dann: *encoder}"
    assert load_yaml(text)["methods"]["dann"] == {"hidden_sizes": [8], "dropout": 0.1}


@pytest.mark.bad_input
@pytest.mark.parametrize("named_in", ["folder", "text list"])
def test_a_file_name_that_is_not_utf8_is_named_and_the_others_are_predicted(
    bundle, tmp_path, capsys, named_in
):
    clips = tmp_path / "clips"
    clips.mkdir()
    tone(clips / "a.wav")
    with open(os.path.join(os.fsencode(clips), b"b\xff.wav"), "wb") as file:
        file.write(tone(tmp_path / "b.wav", hz=220).read_bytes())
    tone(clips / "c.wav", hz=260)
    listed = tmp_path / "clips.txt"  # a list once stopped at the byte: UnicodeDecodeError
    listed.write_bytes(b"# three clips\nclips/a.wav\nclips/b\xff.wav\nclips/c.wav\n")
    source = clips if named_in == "folder" else listed
    out = tmp_path / "p.csv"
    args = ["predict", str(bundle), str(source), "--out", str(out), "--jobs", "1"]
    assert main([*args, "--cache-dir", str(tmp_path / "cache")]) == 0
    table = pd.read_csv(out, keep_default_na=False, encoding="utf-8")
    shown = f"{clips}/b\\xff.wav"
    assert table["file"].tolist() == [str(clips / "a.wav"), shown, str(clips / "c.wav")]
    assert table["prediction"].tolist()[::2] != ["", ""] and table["prediction"][1] == ""
    assert table["error"][1].startswith(f"{shown}: the file name is not valid UTF-8")
    assert "predicted 2 of 3 file(s)" in capsys.readouterr().out
