"""Speaker-level normalisation: each known speaker's rows are normalised with that
speaker's statistics (within its domain); rows of unknown or small speakers use their
domain's; the per-domain path and the run keys at the default level stay as they were."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emoshift.experiment.config import ConfigError, parse_config
from emoshift.experiment.features import _normalise_frames
from emoshift.experiment.plan import plan_trials
from emoshift.features import normalise_per_domain, normalise_per_speaker
from emoshift.features.normalise import speaker_groups

#: no trimming: robust_z is then the plain z-score (ddof=0), easy to check by hand
WHOLE = (0.0, 1.0)


def _z(values):
    values = np.asarray(values, dtype=float)
    return (values - values.mean()) / values.std()


def test_each_speaker_is_z_scored_by_its_own_statistics():
    X = np.array([[1.0, 10.0], [2.0, 30.0], [3.0, 20.0], [10.0, 0.0], [20.0, 4.0], [30.0, 2.0]])
    speakers = ["s1", "s1", "s1", "s2", "s2", "s2"]
    z = normalise_per_speaker(X, speakers, ["d"] * 6, min_rows=3, quantiles=WHOLE)
    np.testing.assert_allclose(z[:3, 0], [-1.224744871, 0.0, 1.224744871])
    for rows in (slice(0, 3), slice(3, 6)):
        for column in range(2):
            np.testing.assert_allclose(z[rows, column], _z(X[rows, column]))


def test_unknown_and_small_speakers_fall_back_to_their_domain():
    X = np.array([[1.0], [2.0], [3.0], [7.0], [11.0], [5.0], [100.0], [200.0], [300.0]])
    speakers = ["s1", "s1", "s1", None, "", "s9", "s1", "s1", "s1"]
    domains = ["a"] * 6 + ["b"] * 3
    z = normalise_per_speaker(X, speakers, domains, min_rows=3, quantiles=WHOLE)
    domain_a = _z(X[:6, 0])  # the domain's statistics over all of its rows
    np.testing.assert_allclose(z[:3, 0], _z(X[:3, 0]))
    np.testing.assert_allclose(z[3:6, 0], domain_a[3:6])  # None, "" and one-row "s9"
    np.testing.assert_allclose(z[6:, 0], _z(X[6:, 0]))  # "s1" of domain b is another speaker
    assert speaker_groups(speakers, domains, min_rows=3).tolist() == [0, 0, 0, -1, -1, -1] + [1] * 3


def test_robust_z_per_speaker_is_the_per_domain_method_over_each_speaker():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)) * 3 + 1
    speakers = np.repeat(["p", "q", "r"], 20)
    z = normalise_per_speaker(X, speakers, None)
    np.testing.assert_array_equal(z, normalise_per_domain(X, speakers))


def test_frames_are_normalised_per_speaker_with_utterance_groups():
    frames = [np.array([[1.0], [3.0]]), np.array([[5.0]]), np.array([[10.0], [30.0]])]
    groups = np.array([0, 0, -1])  # speaker 0's frames: 1, 3, 5; the last falls back
    out = _normalise_frames(frames, np.array(["d", "d", "d"]), "minmax", groups)
    np.testing.assert_allclose(np.concatenate(out)[:, 0], [-1.0, 0.0, 1.0, (10 - 15.5) / 14.5, 1.0])


def _config(features: dict) -> dict:
    return {
        "name": "speaker",
        "corpora": {"s": {"loader": "synthetic", "path": "c"}},
        "features": features,
        "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
        "methods": {"source_only": {}},
        "trials": 1,
    }


def test_level_enters_the_trial_keys_only_when_not_the_default():
    keys = {
        str(features): plan_trials(parse_config(_config(features)))[0].key
        for features in ({}, {"level": "domain"}, {"level": "speaker"})
    }
    assert keys[str({})] == keys[str({"level": "domain"})]
    assert keys[str({"level": "speaker"})] != keys[str({})]


@pytest.mark.bad_input
def test_unknown_level_is_a_config_error():
    with pytest.raises(ConfigError, match=r"config.features.level: 'speakers' is not one of"):
        parse_config(_config({"level": "speakers"}))


@pytest.mark.bad_input
def test_speaker_level_needs_a_speaker_column_and_a_normalisation():
    from emoshift.experiment.features import table_features

    table = pd.DataFrame({"file": ["x.wav"], "corpus": ["c"]})
    with pytest.raises(ValueError, match="needs a normalisation .* and a 'speaker' column"):
        table_features(table, "egemaps", level="speaker")


def test_an_experiment_normalises_each_synthetic_speaker_on_its_own(tmp_path):
    from emoshift.experiment.data import load_experiment_data

    config = _config({"normalisation": "minmax", "level": "speaker", "domain": "elicitation"})
    config["corpora"]["s"]["options"] = {"preset": "tiny"}
    config["features"].update(jobs=1, cache_dir=str(tmp_path / "cache"))
    data = load_experiment_data(parse_config(config, base_dir=tmp_path), progress=False)
    speakers = data.table["speaker"].to_numpy()
    assert len(set(speakers)) == 4 and min(np.unique(speakers, return_counts=True)[1]) >= 10
    for speaker in set(speakers):
        rows = data.X[speakers == speaker]
        varying = rows.max(0) > rows.min(0)
        assert varying.sum() > 40
        # minmax per speaker: every varying feature spans exactly [-1, 1] in each speaker
        np.testing.assert_allclose(rows.min(0)[varying], -1.0, atol=1e-6)
        np.testing.assert_allclose(rows.max(0)[varying], 1.0, atol=1e-6)
