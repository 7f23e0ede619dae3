"""The CNN-GRU encoder and variable-length sequence inputs: padding-invariance, two
streams, end-to-end fits, determinism and errors that name the argument and item."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emoshift.methods import get_method
from emoshift.methods.baselines import TargetOnly
from emoshift.methods.cada import CADA
from emoshift.methods.sequence import (
    CNN_GRU_PAPER,
    CNNGRUEncoder,
    PaddedSequences,
    Sequences,
    conv_output_length,
)

TINY = dict(
    encoder="cnn_gru",
    conv_channels=(8, 16),
    gru_size=16,
    fusion_sizes=(16, 8),
    batch_size=8,
    lr=1e-2,
    random_state=0,
)


def _sequences(n: int, seed: int = 0, width: int = 41, shift: float = 0.0):
    """Two classes of sequences of 12..60 frames; class 1 has a higher mean in frames."""
    rng = np.random.default_rng(seed)
    y = np.array(["anger", "sadness"] * (n // 2))
    X = [
        (rng.normal(size=(int(rng.integers(12, 60)), width)) + 1.2 * (label == "anger") + shift)
        for label in y
    ]
    return [x.astype(np.float32) for x in X], y


def test_padding_does_not_change_the_output():
    torch.manual_seed(0)
    encoder = CNNGRUEncoder((41,)).eval()
    X = Sequences(
        [np.random.default_rng(i).normal(size=(n, 41)) for i, n in enumerate((7, 20, 47, 90))]
    )
    together = encoder(X.pad())
    for i in range(len(X)):
        alone = encoder(X.pad([i]))
        torch.testing.assert_close(alone[0], together[i], atol=1e-5, rtol=0)
    # the shortest (7 frames, below the 18-frame receptive field) next to the longest
    torch.testing.assert_close(encoder(X.pad([0, 3]))[0], encoder(X.pad([0]))[0], atol=1e-5, rtol=0)


def test_output_lengths_match_the_convolutions():
    encoder = CNNGRUEncoder((41,))
    for length in (18, 19, 30, 101):
        out = encoder.convs(torch.zeros(1, 41, length))
        expected = conv_output_length(torch.tensor([length]), (10, 5), (2, 2))
        assert out.shape[2] == int(expected)
    assert encoder.min_length == 18


def test_two_streams_shapes_and_padding():
    rng = np.random.default_rng(0)
    audio = [rng.normal(size=(n, 41)) for n in (30, 64, 25)]
    faces = [rng.normal(size=(n, 512)) for n in (8, 16, 5)]
    X = Sequences(audio, faces)
    assert X.n_streams == 2 and X.widths == (41, 512)
    torch.manual_seed(0)
    encoder = CNNGRUEncoder(X.widths, second_gru_size=32).eval()
    layers = encoder.layers_output(X.pad())
    assert [tuple(h.shape) for h in layers] == [(3, 128 + 32), (3, 128), (3, 128)]
    torch.testing.assert_close(encoder(X.pad([2]))[0], layers[-1][2], atol=1e-5, rtol=0)
    paper = CNNGRUEncoder((41, 512))
    assert paper.fusion[0][0].in_features == 128 + 512 and paper.output_size == 128


def test_padded_batches_concatenate_and_index_like_tensors():
    X = Sequences([np.ones((n, 3)) * n for n in (4, 9, 6)])
    both = torch.cat([X.pad([0]), X.pad([1, 2])])
    assert isinstance(both, PaddedSequences)
    assert both.values[0].shape == (3, 9, 3) and both.lengths[0].tolist() == [4, 9, 6]
    assert both[np.array([2, 0])].lengths[0].tolist() == [6, 4]
    assert float(both.values[0][0, 4:].abs().sum()) == 0  # zero padding


def test_target_only_fits_sequences_deterministically():
    X, y = _sequences(32)
    model = TargetOnly(max_epochs=6, **TINY)
    model.fit(None, None, X_target_labelled=X, y_target_labelled=y)
    assert model.score(X, y) > 0.8
    assert model.transform(X).shape == (32, 8) and model.transform(X, layer=0).shape == (32, 16)
    # predictions follow the input order (prediction sorts by length internally)
    order = np.random.default_rng(1).permutation(32)
    np.testing.assert_allclose(
        model.predict_proba([X[i] for i in order]), model.predict_proba(X)[order], atol=1e-6
    )
    twin = TargetOnly(max_epochs=6, **TINY).fit(
        None, None, X_target_labelled=X, y_target_labelled=y
    )
    np.testing.assert_array_equal(twin.predict_proba(X), model.predict_proba(X))


def test_cada_fits_two_stream_sequences_end_to_end():
    Xs, ys = _sequences(24)
    Xt, yt = _sequences(8, seed=1, shift=0.5)
    rng = np.random.default_rng(2)
    faces = lambda X: [rng.normal(size=(len(x) // 4, 6)) for x in X]  # noqa: E731
    model = CADA(max_epochs=2, second_gru_size=8, **TINY)
    model.fit(
        Sequences(Xs, faces(Xs)),
        ys,
        X_target_labelled=Sequences(Xt, faces(Xt)),
        y_target_labelled=yt,
    )
    proba = model.predict_proba(Sequences(Xt, faces(Xt)))
    assert proba.shape == (8, 2)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    with pytest.raises(ValueError, match="fitted on"):
        model.predict(Xt)  # one stream, the model has two


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("fine_tune", {"fine_tune_epochs": 1, "tune": "head"}),
        ("max_entropy", {"pretrain_epochs": 1}),
        ("fada", {"pretrain_epochs": 1, "dcd_epochs": 1}),
    ],
)
def test_every_few_shot_method_runs_on_sequences(name, params):
    Xs, ys = _sequences(16)
    Xt, yt = _sequences(4, seed=1, shift=0.5)
    model = get_method(name, max_epochs=1, **params, **TINY)
    model.fit(Xs, ys, X_target=Xt, X_target_labelled=Xt, y_target_labelled=yt)
    assert model.predict(Xt).shape == (4,) and model.transform(Xt).shape == (4, 8)


def test_paper_configuration_is_accepted():
    model = TargetOnly(**CNN_GRU_PAPER)
    assert model.get_params()["encoder"] == "cnn_gru"
    assert model.get_params()["head_hidden_sizes"] == (32, 10)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (
            lambda X: X[:2] + [np.zeros((20, 40))] + X[3:],
            r"X_target_labelled: stream 0, item 2 has 40",
        ),
        (
            lambda X: X[:4] + [np.zeros((0, 41))] + X[5:],
            r"X_target_labelled: stream 0, item 4 is an empty",
        ),
        (lambda X: X[:1] + [np.where(np.arange(41) == 3, np.nan, X[1])] + X[2:], r"item 1 has NaN"),
        (lambda X: X[:3] + [np.zeros(41)] + X[4:], r"item 3 must be 2-D"),
    ],
)
def test_bad_sequences_name_the_argument_and_item(bad, match):
    X, y = _sequences(8)
    with pytest.raises(ValueError, match=match):
        TargetOnly(max_epochs=1, **TINY).fit(
            None, None, X_target_labelled=bad(X), y_target_labelled=y
        )


def test_encoder_and_input_kind_must_match():
    X, y = _sequences(8)
    with pytest.raises(ValueError, match="use encoder='cnn_gru'"):
        TargetOnly(max_epochs=1).fit(None, None, X_target_labelled=X, y_target_labelled=y)
    with pytest.raises(ValueError, match="encoder='cnn_gru' reads frame sequences"):
        TargetOnly(max_epochs=1, **TINY).fit(
            None, None, X_target_labelled=np.zeros((8, 41)), y_target_labelled=y
        )
    with pytest.raises(ValueError, match="encoder='rnn'"):
        TargetOnly(encoder="rnn").fit(None, None, X_target_labelled=X, y_target_labelled=y)
    with pytest.raises(ValueError, match="different numbers of sequences"):
        Sequences(X, X[:3])
