"""Stacked training: members equal their solo fits, stop on their own, and a stacked run
resumes to the same results file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_configs import FAST, tiny_config

from emoshift.cli import main
from emoshift.experiment import stacking
from emoshift.experiment.config import parse_config
from emoshift.experiment.runner import run_experiment
from emoshift.experiment.store import read_jsonl
from emoshift.methods.baselines import SourceOnly, SourceTarget, TargetOnly
from emoshift.methods.cada import CADA
from emoshift.methods.coral import DeepCORAL
from emoshift.methods.dann import DANN
from emoshift.methods.fine_tune import FineTune
from emoshift.methods.max_entropy import MaxEntropySoftLabel
from emoshift.methods.mrd import MRD
from emoshift.methods.stacked import fit_stacked
from emoshift.methods.stacked_networks import NotStackable, _fast_keep
from emoshift.metrics import score
from emoshift.report.experiment import stacking_note, write_experiment_report

SMALL = {"hidden_sizes": (24, 12), "batch_size": 32}


def _data(seed: int = 0, n: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10)).astype("float32")
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=n) > 0, "anger", "neutral")
    X_target = (rng.normal(size=(n, 10)) * 1.3 + 0.4).astype("float32")
    return X, y, X_target


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if v.dtype.is_floating_point}


def _max_difference(a: object, b: object) -> float:
    pa, pb = _params(a.modules_), _params(b.modules_)
    assert pa.keys() == pb.keys()
    return max(float((pa[k] - pb[k]).abs().max()) for k in pa)


METHODS = [
    (SourceOnly, {}),
    (DANN, {"warmup_epochs": 1, "lambda_max": 0.7}),
    (DeepCORAL, {"coral_weight": 2.0}),
    (MRD, {"regressor_width": 16, "n_encoder_steps": 2}),
]
#: widths that are a multiple of 16: a member's batch norm is its solo layer's, bit for bit
WIDE = {"hidden_sizes": (32, 16)}
#: every dropout off: the masks' mode cannot matter
NO_DROPOUT = {"dropout": 0.0, "input_dropout": 0.0, "head_dropout": 0.0}


def _bitwise_equal(a: object, b: object) -> bool:
    pa, pb = _params(a.modules_), _params(b.modules_)
    return pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)


def _assert_as_solo_fits(solo: list, stacked: list) -> None:
    """Each member ends bit for bit where its solo fit does, at the same best epoch, with
    the same history: epochs and phases exactly, the other values to float tolerance."""
    for alone, member in zip(solo, stacked, strict=True):
        assert _bitwise_equal(alone, member)
        assert getattr(member, "best_epoch_", None) == getattr(alone, "best_epoch_", None)
        for a, b in zip(alone.history_, member.history_, strict=True):
            assert a.keys() == b.keys()
            assert (a["epoch"], a.get("phase")) == (b["epoch"], b.get("phase"))
            for key in a.keys() - {"epoch", "phase", "time_s"}:
                assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-7), key


def _solo_and_stacked(kind: type, params: dict, masks: str, seeds=(3, 4, 5)) -> tuple:
    X, y, X_target = _data()

    def model(seed: int) -> object:
        return kind(**{**SMALL, **params}, max_epochs=2, random_state=seed)

    solo = [model(s).fit(X, y, X_target=X_target) for s in seeds]
    given = [{"X": X, "y": y, "X_target": X_target}] * len(seeds)
    return solo, fit_stacked([model(s) for s in seeds], given, masks=masks)


def test_a_member_draws_its_own_target_subset_as_its_solo_fit():
    """``target_sample="source_size"`` cuts the target rows to a subset as large as the source
    pool, drawn from the member's own generator: a stacked member trains on the subset
    its solo fit draws, bit for bit."""
    X, y, X_target = _data(11, n=96)
    given = {"X": X, "y": y, "X_target": np.concatenate([X_target, X_target[:64] + 0.2])}

    def model(seed: int) -> DANN:
        return DANN(
            **{**SMALL, **WIDE},
            target_sample="source_size",
            max_epochs=2,
            warmup_epochs=1,
            random_state=seed,
        )

    solo, stacked = _fit_both(model, (3, 4, 5), given)
    for alone, member in zip(solo, stacked):
        np.testing.assert_array_equal(member.target_sample_, alone.target_sample_)
        assert _bitwise_equal(alone, member)
    assert len({tuple(m.target_sample_) for m in stacked}) == 3


def test_a_solo_refit_no_longer_says_it_was_stacked():
    X, y, _ = _data()
    models = [SourceOnly(**SMALL, max_epochs=1, random_state=s) for s in (0, 1)]
    fit_stacked(models, [{"X": X, "y": y}] * 2)
    assert models[0].stacked_ == {"size": 2, "masks": "exact"}
    assert not hasattr(models[0].fit(X, y), "stacked_")


@pytest.mark.parametrize("widths", [WIDE, {}], ids=["one_batch_norm_call", "member_by_member"])
@pytest.mark.parametrize(("kind", "params"), METHODS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_stacked_member_takes_the_steps_of_its_solo_fit(kind, params, widths):
    """With ``exact`` masks a member's every operation is its solo fit's, batch norm and
    dropout included (DANN's defaults drop 20% of inputs and 50% of units), so after two
    epochs its parameters are its solo fit's bit for bit, at widths that batch norm runs
    in one call (32, 16) and at widths it runs member by member (24, 12); the per-epoch
    losses, reduced per member, agree to float tolerance."""
    solo, stacked = _solo_and_stacked(kind, {**params, **widths}, "exact")
    _assert_as_solo_fits(solo, stacked)
    assert all(member.stacked_ == {"size": 3, "masks": "exact"} for member in stacked)
    assert _max_difference(solo[0], solo[1]) > 1e-2  # seeds give different networks


@pytest.mark.parametrize(("kind", "params"), METHODS, ids=lambda v: getattr(v, "__name__", ""))
def test_fast_masks_change_only_the_dropout_masks(kind, params):
    """``fast`` masks are other masks (members move away from their solo fits), and with
    every dropout off the members are their solo fits bit for bit."""
    off = {**NO_DROPOUT, **({"regressor_dropout": 0.0} if kind is MRD else {})}
    solo, stacked = _solo_and_stacked(kind, {**params, **WIDE, **off}, "fast")
    assert all(_bitwise_equal(a, b) for a, b in zip(solo, stacked))
    assert stacked[0].stacked_ == {"size": 3, "masks": "fast"}
    solo, stacked = _solo_and_stacked(kind, {**params, **WIDE}, "fast")
    assert all(_max_difference(a, b) > 1e-4 for a, b in zip(solo, stacked))


@pytest.mark.parametrize("keep", [0.8, 0.5])
def test_fast_masks_keep_units_at_the_rate_of_dropout_and_follow_their_own_generator(keep):
    """``fast`` masks read four 16-bit fields of each 64-bit draw: the keep rate is the
    dropout's (a million units: within 5 standard errors), and member ``m``'s mask is
    drawn from its own generator alone."""

    def generators(*seeds: int) -> list[torch.Generator]:
        return [torch.Generator().manual_seed(seed) for seed in seeds]

    masks = _fast_keep(torch.Size([2, 1000, 1001]), keep, generators(0, 1))
    rate = masks.double().mean(dim=(1, 2))
    assert torch.allclose(
        rate,
        torch.full((2,), keep, dtype=torch.float64),
        atol=5 * (keep * (1 - keep) / 1001e3) ** 0.5,
    )
    alone = _fast_keep(torch.Size([1, 1000, 1001]), keep, generators(1))
    assert torch.equal(masks[1], alone[0]) and not torch.equal(masks[0], masks[1])


def test_with_batch_norm_at_any_width_the_losses_follow_the_solo_fit():
    """At widths that are not a multiple of 16 a member's batch-norm units are padded
    (so that its numbers do not depend on its stack mates), and the kernel's gradient
    then rounds differently from the solo layer's; batch norm makes a linear layer's bias
    gradient rounding noise, which Adam magnifies to a step of about lr whichever way it
    points, but the losses, which that bias does not move, follow the solo fit's."""
    X, y, X_target = _data(1)
    solo = DANN(**SMALL, warmup_epochs=1, max_epochs=3, random_state=0).fit(X, y, X_target=X_target)
    (member,) = fit_stacked(
        [DANN(**SMALL, warmup_epochs=1, max_epochs=3, random_state=0)],
        [{"X": X, "y": y, "X_target": X_target}],
    )
    for a, b in zip(solo.history_, member.history_):
        assert a["task_loss"] == pytest.approx(b["task_loss"], rel=1e-3)
        assert a["domain_loss"] == pytest.approx(b["domain_loss"], rel=1e-3)


@pytest.mark.parametrize("masks", ["exact", "fast"])
@pytest.mark.parametrize(("kind", "params"), METHODS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_member_does_not_depend_on_the_others_in_its_stack(kind, params, masks):
    """What a resumed run relies on: the same trial in a stack of three (with other
    grid values where the method has them) or alone in a stack of one ends with the same
    bytes, at widths (24, 12) that batch norm runs member by member. (DANN's one-unit
    domain output and the gradients of every linear layer once depended on the stack's
    size.)"""
    X, y, X_target = _data(2)
    given = {"X": X, "y": y, "X_target": X_target}
    grid = {DANN: "lambda_max", DeepCORAL: "coral_weight"}.get(kind)

    def model(seed: int, value: float = 1.0) -> object:
        values = {grid: value} if grid else {}
        return kind(**SMALL, **{**params, **values}, max_epochs=2, random_state=seed)

    three = fit_stacked([model(7), model(8, 0.5), model(9, 3.0)], [given] * 3, masks=masks)
    (one,) = fit_stacked([model(8, 0.5)], [given], masks=masks)
    assert _bitwise_equal(three[1], one)
    assert three[1].history_ == [
        dict(r, time_s=three[1].history_[i]["time_s"]) for i, r in enumerate(one.history_)
    ]


#: the baselines trained on labelled target examples: (class, parameters, whether the
#: fit also gets the labelled source)
TARGET_BASELINES = [
    (TargetOnly, {}, False),
    (SourceTarget, {}, True),
    (SourceTarget, {"source_weight": 0.0}, True),
]


def _labelled_target_fit(with_source: bool, seed: int = 5) -> dict:
    X, y, X_target = _data(seed)
    y_target = np.where(X_target[:, 0] > 0.4, "anger", "neutral")
    given = {"X_target_labelled": X_target[:60], "y_target_labelled": y_target[:60]}
    return {"X": X, "y": y, **given} if with_source else {"X": None, "y": None, **given}


def _with_target_dev(given: dict) -> dict:
    """``given`` with ``eval_set``: its first 30 labelled target rows, shifted by 0.1."""
    X_dev, y_dev = given["X_target_labelled"][:30] + 0.1, given["y_target_labelled"][:30]
    return {**given, "eval_set": (X_dev, y_dev)}


def _fit_both(model: Callable, seeds: Sequence[int], given: dict, masks: str = "exact") -> tuple:
    """The fits of ``model(seed)`` for each of ``seeds`` on ``given``: alone, and stacked."""
    solo = [model(s).fit(**given) for s in seeds]
    return solo, fit_stacked([model(s) for s in seeds], [given] * len(seeds), masks=masks)


@pytest.mark.parametrize(("kind", "params", "with_source"), TARGET_BASELINES)
def test_the_baselines_on_labelled_target_rows_stack_as_their_solo_fits(kind, params, with_source):
    """Train-on-target / label-target (``TargetOnly``) and source + target pooled train
    on a pool that holds labelled target rows; stacked with ``exact`` masks each member
    ends where its solo fit does, bit for bit, and records the same losses."""
    given = _labelled_target_fit(with_source)
    seeds = (3, 4, 5)

    def model(seed: int) -> object:
        return kind(**{**SMALL, **WIDE, **params}, max_epochs=3, random_state=seed)

    solo, stacked = _fit_both(model, seeds, given)
    for alone, member in zip(solo, stacked):
        assert member.stacked_ == {"size": 3, "masks": "exact"}
        assert _bitwise_equal(alone, member)
        assert [r["loss"] for r in alone.history_] == pytest.approx(
            [r["loss"] for r in member.history_], rel=1e-6
        )
    assert _max_difference(solo[0], solo[1]) > 1e-2


def test_label_target_members_stop_early_on_their_own():
    """Early stopping on the labelled target pool's development split: each member stops
    at its solo fit's epoch and keeps its solo fit's best epoch."""
    given = _labelled_target_fit(False, seed=6)

    def model(seed: int) -> TargetOnly:
        return TargetOnly(
            **SMALL, batch_norm=False, patience=2, max_epochs=40, lr=0.03, random_state=seed
        )

    seeds = range(6)
    solo, stacked = _fit_both(model, seeds, given)
    epochs = [m.n_epochs_ for m in stacked]
    assert epochs == [m.n_epochs_ for m in solo]
    assert len(set(epochs)) > 1 and max(epochs) < 40
    assert [m.best_epoch_ for m in stacked] == [m.best_epoch_ for m in solo]


@pytest.mark.parametrize(
    "params",
    [{}, {"tune": "head", "fine_tune_lr": 0.01}, {"source_weight": 0.5}, {"source_weight": 0.0}],
    ids=["all", "head", "weighted", "no-pretraining"],
)
def test_fine_tuning_stacks_phase_by_phase_as_its_solo_fits(params):
    """Fine-tuning's two phases (pre-training on the source, stopping early on a source
    split; then fine-tuning on the labelled target rows, stopping on ``eval_set``) run
    stacked as its solo fit runs them: with ``exact`` masks every member ends bit for
    bit where its solo fit does, with the same history (phases, epochs, best epoch)."""
    given = _with_target_dev(_labelled_target_fit(True, seed=7))
    seeds = (3, 4, 5, 6)

    def model(seed: int) -> FineTune:
        return FineTune(
            **{**SMALL, **WIDE, **params},
            max_epochs=12,
            fine_tune_epochs=12,
            patience=2,
            lr=0.02,
            random_state=seed,
        )

    solo, stacked = _fit_both(model, seeds, given)
    _assert_as_solo_fits(solo, stacked)
    phases = [[r["phase"] for r in m.history_] for m in stacked]
    assert all(p[-1] == "fine_tune" for p in phases)
    if params.get("source_weight", 1.0) != 0:
        lengths = {p.count("pretrain") for p in phases} | {p.count("fine_tune") for p in phases}
        assert len(lengths) > 1  # members left each phase at their own epochs


@pytest.mark.parametrize(
    ("params", "unlabelled"),
    [({}, False), ({}, True), ({"source_weight": 0.5}, True), ({"source_weight": 0.0}, False)],
    ids=["default", "with-unlabelled-target", "weighted", "no-pretraining"],
)
def test_max_entropy_stacks_phase_by_phase_as_its_solo_fits(params, unlabelled):
    """Max-entropy's pre-training, each member's own soft labels, then its adaptation
    (class-balanced source and labelled target batches, a domain-classifier update and
    an encoder + emotion classifier update per batch) run stacked as its solo fit runs
    them: with ``exact`` masks every member ends bit for bit where its solo fit does,
    with its soft labels and the same history."""
    given = _with_target_dev(_labelled_target_fit(True, seed=8))
    if unlabelled:
        given["X_target"] = _data(9)[2]
    seeds = (3, 4, 5)

    def model(seed: int) -> MaxEntropySoftLabel:
        return MaxEntropySoftLabel(
            **{**SMALL, **WIDE, **params},
            pretrain_epochs=8,
            max_epochs=4,
            patience=2,
            lr=0.02,
            random_state=seed,
        )

    solo, stacked = _fit_both(model, seeds, given)
    _assert_as_solo_fits(solo, stacked)
    for alone, member in zip(solo, stacked):
        np.testing.assert_array_equal(alone.soft_labels_, member.soft_labels_)
    assert _max_difference(solo[0], solo[1]) > 1e-2


@pytest.mark.parametrize(
    "params",
    [{}, {"merge": "max", "source_weight": 0.5}, {"source_weight": 0.0}],
    ids=["sum", "max-weighted", "target-only-loss"],
)
def test_cada_stacks_as_its_solo_fits(params):
    """CADA's two stages per batch (encoder and 2K-way predictor, then the encoder alone
    on swapped categories) and its merged-category development loss: with ``exact``
    masks members end bit for bit where their solo fits do and stop on their own."""
    given = _with_target_dev(_labelled_target_fit(True, seed=10))
    seeds = (3, 4, 5, 6)

    def model(seed: int) -> CADA:
        return CADA(
            **{**SMALL, **WIDE, **params},
            max_epochs=15,
            patience=2,
            lr=0.02,
            random_state=seed,
        )

    solo, stacked = _fit_both(model, seeds, given)
    _assert_as_solo_fits(solo, stacked)
    assert len({m.n_epochs_ for m in stacked}) > 1  # members stopped at their own epochs


def test_cada_members_need_every_class_in_their_labelled_target_rows():
    given = _labelled_target_fit(True, seed=10)
    one_class = given["y_target_labelled"] == given["y_target_labelled"][0]
    given = {
        **given,
        "X_target_labelled": given["X_target_labelled"][one_class],
        "y_target_labelled": given["y_target_labelled"][one_class],
    }
    with pytest.raises(ValueError, match="needs every class in the labelled target"):
        fit_stacked([CADA(**SMALL, max_epochs=1), CADA(**SMALL, max_epochs=1)], [given] * 2)


def test_weighted_source_target_training_runs_alone_with_the_reason():
    given = _labelled_target_fit(True)
    with pytest.raises(NotStackable, match="source_weight other than 0 and 1"):
        fit_stacked([SourceTarget(**SMALL, source_weight=0.5)] * 2, [given] * 2)
    with pytest.raises(NotStackable, match="labelled target examples do not stack"):
        fit_stacked([DANN(**SMALL), DANN(**SMALL)], [{**given, "X_target": given["X"]}] * 2)


def test_members_stop_early_on_their_own_and_keep_their_best_epoch():
    X, y, _ = _data(3, n=200)
    seeds = range(6)

    def model(seed: int) -> SourceOnly:
        return SourceOnly(
            **SMALL, batch_norm=False, patience=2, max_epochs=40, lr=0.02, random_state=seed
        )

    solo, stacked = _fit_both(model, seeds, {"X": X, "y": y})
    epochs = [m.n_epochs_ for m in stacked]
    assert epochs == [m.n_epochs_ for m in solo]
    assert len(set(epochs)) > 1 and max(epochs) < 40  # they stopped, at different epochs
    assert [m.best_epoch_ for m in stacked] == [m.best_epoch_ for m in solo]
    for alone, member in zip(solo, stacked):
        dev = [r["dev_loss"] for r in member.history_]
        assert member.best_epoch_ == int(np.argmin(dev))
        np.testing.assert_allclose(
            member.predict_proba(X[:50]), alone.predict_proba(X[:50]), atol=1e-4
        )


def test_what_does_not_stack_is_refused_with_the_reason():
    X, y, X_target = _data()
    with pytest.raises(NotStackable, match="differ in \\['hidden_sizes'\\]"):
        fit_stacked(
            [DANN(hidden_sizes=(8,)), DANN(hidden_sizes=(9,))],
            [{"X": X, "y": y, "X_target": X_target}] * 2,
        )
    with pytest.raises(NotStackable, match="only the MLP encoder"):
        fit_stacked([SourceOnly(encoder="cnn_gru")] * 2, [{"X": X, "y": y}] * 2)
    with pytest.raises(NotStackable, match="data differ in shape"):
        fit_stacked(
            [SourceOnly(**SMALL, max_epochs=1), SourceOnly(**SMALL, max_epochs=1)],
            [{"X": X, "y": y}, {"X": X[:100], "y": y[:100]}],
        )


# ------------------------------------------------------------------ runs


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feature-cache")


def _config(cache: Path, stack: int, adversarial: bool = False) -> dict:
    dann = {**FAST, "warmup_epochs": 1, "lambda_max": [0.5, 1.0]}
    more = {"dann": dann, "mrd": dict(FAST)} if adversarial else {}
    methods = {
        "source_only": dict(FAST),
        "coral": {**FAST, "coral_weight": [0.5, 1.0]},
        **more,
    }
    return tiny_config(cache, name="stacked", methods=methods, stack=stack)


def _sorted(run_dir: Path) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in read_jsonl(run_dir / "results.jsonl"))


def test_a_resumed_stacked_run_gives_the_same_results_file(tmp_path, cache):
    """Source-only (3 trials: a stack of 3), Deep CORAL, DANN (2 grid values x 3 trials:
    stacks of 4 and 2) and MRD (a stack of 3); the run is killed when half of each
    stack's trials (at least one) are recorded."""
    config = parse_config(_config(cache, stack=4, adversarial=True), base_dir=tmp_path)
    whole = run_experiment(config, run_dir=tmp_path / "whole", progress=False)
    assert (whole.n_done, whole.n_failed) == (18, 0)
    records = read_jsonl(tmp_path / "whole" / "results.jsonl")
    assert all(r["stacked"] == {"masks": "exact"} for r in records)
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "whole", cut)
    lines = (cut / "results.jsonl").read_text().splitlines()
    stacks: list[list[int]] = []  # a stack's lines follow each other, 4 at most
    for i, record in enumerate(records):
        if i and record["method"] == records[i - 1]["method"] and len(stacks[-1]) < 4:
            stacks[-1].append(i)
        else:
            stacks.append([i])
    assert sorted(map(len, stacks)) == [2, 2, 3, 3, 4, 4]
    kept = [i for stack in stacks for i in stack[: max(1, len(stack) // 2)]]
    (cut / "results.jsonl").write_text("\n".join(lines[i] for i in kept) + "\n")
    for i, line in enumerate(lines):  # the cut trials' tables go with their lines
        if i not in kept:
            (cut / json.loads(line)["predictions"]).unlink()
    resumed = run_experiment(config, run_dir=cut, progress=False)
    assert (resumed.n_skipped, resumed.n_done) == (8, 10)
    assert _sorted(cut) == _sorted(tmp_path / "whole")
    for record in records:  # each member's own predictions table, made again byte for byte
        written = (cut / record["predictions"]).read_bytes()
        assert written == (tmp_path / "whole" / record["predictions"]).read_bytes()


def test_each_stacked_member_keeps_its_own_predictions_table(tmp_path, cache):
    config = parse_config(_config(cache, stack=3), base_dir=tmp_path)
    run_experiment(config, run_dir=tmp_path / "run", progress=False)
    records = read_jsonl(tmp_path / "run" / "results.jsonl")
    assert all(r["stacked"] == {"masks": "exact"} for r in records)
    assert len({r["predictions"] for r in records}) == len(records) == 9
    tables = []
    for record in records:
        assert record["predictions"] == f"predictions/{record['key']}.csv"
        table = pd.read_csv(tmp_path / "run" / record["predictions"])
        classes = record["labels"]
        assert list(table.columns) == ["file", "true", "prediction", *[f"p_{c}" for c in classes]]
        recomputed = score(table["true"], table["prediction"], "classification", labels=classes)
        assert recomputed == pytest.approx(record["metrics"])
        tables.append(table[[f"p_{c}" for c in classes]].to_numpy())
    assert not all(np.array_equal(tables[0], t) for t in tables[1:])  # not one member's copy


def test_a_few_shot_run_stacks_to_its_unstacked_results(tmp_path, cache):
    """A few-shot run (two labelled target examples per class) of label-target,
    fine-tuning, max-entropy and CADA, dropout off: stacked, every trial's line is its
    unstacked line plus ``stacked`` (the stack feeds each member its own labelled rows
    and development set), its predictions table the same bytes; the history's losses,
    reduced per member, agree to float tolerance."""
    off = {**FAST, **NO_DROPOUT}
    methods = {
        "label_target": dict(off),
        "fine_tune": {**off, "fine_tune_epochs": 3},
        "max_entropy": {**off, "pretrain_epochs": 3},
        "cada": dict(off),
    }
    protocol = {"name": "few_shot", "k": [2], "exclusive": False}
    runs = {}
    for stack in (1, 3):
        config = tiny_config(
            cache, name="few", methods=methods, protocol=protocol, stack=stack, baseline=None
        )
        result = run_experiment(
            parse_config(config, base_dir=tmp_path), run_dir=tmp_path / f"s{stack}", progress=False
        )
        assert (result.n_done, result.n_failed) == (12, 0)
        runs[stack] = read_jsonl(tmp_path / f"s{stack}" / "results.jsonl")
    assert all(r.pop("stacked") == {"masks": "exact"} for r in runs[3])
    key = lambda r: r["key"]  # noqa: E731
    for stacked, alone in zip(sorted(runs[3], key=key), sorted(runs[1], key=key), strict=True):
        history, solo_history = stacked.pop("history"), alone.pop("history")
        assert stacked == alone  # metrics, confusion, artifacts: the same numbers
        for mine, theirs in zip(history, solo_history, strict=True):
            assert mine.keys() == theirs.keys() and mine["epoch"] == theirs["epoch"]
            for name in mine.keys() - {"epoch", "phase"}:  # losses reduced per member
                assert mine[name] == pytest.approx(theirs[name], rel=1e-6), name
        predictions = [pd.read_csv(tmp_path / run / stacked["predictions"]) for run in ("s1", "s3")]
        pd.testing.assert_frame_equal(*predictions)


def test_a_stack_that_cannot_train_together_runs_each_trial_alone(tmp_path, cache, monkeypatch):
    def refuse(models: object, givens: object, **_: object) -> None:
        raise NotStackable("a reason")

    monkeypatch.setattr(stacking, "fit_stacked", refuse)
    config = parse_config(_config(cache, stack=3), base_dir=tmp_path)
    run_experiment(config, run_dir=tmp_path / "refused", progress=False)
    plain = parse_config(_config(cache, stack=1), base_dir=tmp_path)
    run_experiment(plain, run_dir=tmp_path / "plain", progress=False)
    refused = read_jsonl(tmp_path / "refused" / "results.jsonl")
    assert all(r.pop("stacked") is False and r.pop("stack_problem") == "a reason" for r in refused)
    plain_records = read_jsonl(tmp_path / "plain" / "results.jsonl")
    assert all("stacked" not in r for r in plain_records)
    key = lambda r: r["key"]  # noqa: E731
    assert sorted(refused, key=key) == sorted(plain_records, key=key)


def test_dry_run_says_which_trials_would_stack(tmp_path, cache, capsys, monkeypatch):
    import yaml  # noqa: PLC0415

    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(_config(cache, stack=1)))
    assert main(["run", str(path), "--dry-run", "--stack", "2"]) == 0
    # source-only: 3 trials -> a stack of 2 and one alone; CORAL: 6 trials -> 3 stacks of 2
    out = capsys.readouterr().out
    assert (
        "8 of the 9 trial(s) to run train in 4 stack(s) of up to 2 (exact dropout masks: the "
        "numbers of each trial alone)" in out
    )
    monkeypatch.setattr(stacking.torch.cuda, "is_available", lambda: False)  # auto: 5
    assert main(["run", str(path), "--dry-run", "--stack", "auto", "--stack-masks", "fast"]) == 0
    # stack auto: 5 on a machine without a GPU; CORAL's 6 trials -> stacks of 5 and 1
    out = capsys.readouterr().out
    assert "8 of the 9 trial(s) to run train in 2 stack(s) of up to 5 (stack: auto) (fast" in out
    monkeypatch.setattr(stacking.torch.cuda, "is_available", lambda: True)  # auto: 1
    assert main(["run", str(path), "--dry-run", "--stack", "auto"]) == 0
    out = capsys.readouterr().out
    assert f"9 trial(s) run alone: {stacking.GPU_ALONE}" in out and "stack(s)" not in out


def test_auto_stacks_five_trials_on_a_cpu_and_none_where_torch_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(stacking.torch.cuda, "is_available", lambda: False)
    assert stacking.stack_size(None, "auto") == stacking.AUTO_CPU_STACK == 5
    assert stacking.stack_size(2, "auto") == 2
    monkeypatch.setattr(stacking.torch.cuda, "is_available", lambda: True)
    assert stacking.stack_size("auto", 4) == 1


def _trial_specs(method: str, params: dict, protocol: str, n: int) -> list:
    """``n`` trials of ``method`` on one pair, differing only in their trial (and key)."""
    return [
        stacking.TrialSpec(
            experiment="e",
            method=method,
            params=params,
            variant="v",
            pair="a->b",
            source="a",
            target="b",
            protocol=protocol,
            trial=trial,
            seed=0,
            task="classification",
            metrics=None,
            key=f"k{trial}",
        )
        for trial in range(n)
    ]


def test_auto_on_a_gpu_runs_every_trial_alone_and_says_why(monkeypatch):
    """Where torch sees a GPU, ``auto`` stacks nothing; every record (and so the report's
    stacking line) says that ``auto`` chose it, while ``--stack 1`` stays silent."""
    monkeypatch.setattr(stacking.torch.cuda, "is_available", lambda: True)
    settings = stacking.stack_settings(
        "auto", "exact", stack=None, masks=None, executor="serial", jobs=1
    )
    assert (settings.size, settings.alone) == (1, stacking.GPU_ALONE)
    specs = _trial_specs("dann", {}, "cross_domain", 3)
    units = stacking.plan_units(specs, specs, settings.size, alone=settings.alone)
    assert units == [stacking.Alone(spec, stacking.GPU_ALONE) for spec in specs]
    records = [{"stacked": False, "stack_problem": unit.reason} for unit in units]
    assert stacking_note(records) == f"Stacked training: 3 alone ({stacking.GPU_ALONE})."
    one = stacking.stack_settings(1, "exact", stack=None, masks=None, executor="serial", jobs=1)
    assert one.alone is None
    assert stacking.plan_units(specs, specs, one.size, alone=one.alone) == specs


def test_auto_leaves_no_parallel_worker_idle_on_a_small_run():
    """Stacks shrink only as far as the plan needs to give every worker a unit: three
    trials on two workers stack as 2 + 1, twelve as 5 + 5 + 2 as on one worker, twelve on
    four workers as 3 + 3 + 3 + 3, and on sixteen workers every trial runs alone."""
    specs = _trial_specs("source_only", {}, "cross_domain", 12)
    sizes = lambda units: [  # noqa: E731
        len(u.members) if isinstance(u, stacking.TrialStack) else 1 for u in units
    ]
    assert sizes(stacking.plan_units(specs[:3], specs[:3], 5, workers=2)) == [2, 1]
    assert sizes(stacking.plan_units(specs[:3], specs[:3], 5)) == [3]
    assert sizes(stacking.plan_units(specs, specs, 5, workers=2)) == [5, 5, 2]
    assert sizes(stacking.plan_units(specs, specs, 5, workers=4)) == [3, 3, 3, 3]
    assert sizes(stacking.plan_units(specs, specs, 5, workers=16)) == [1] * 12


def test_by_default_a_run_stacks_with_exact_masks_and_gives_the_unstacked_numbers(
    tmp_path, cache, monkeypatch
):
    """No ``stack`` in the config: stack auto, exact masks. Every line is its unstacked
    line plus ``stacked`` (histories' losses to float tolerance, as above); ``fast``
    masks, asked for, are recorded and give other numbers."""
    monkeypatch.setattr(stacking.torch.cuda, "is_available", lambda: False)  # auto: 5
    runs = {}
    for name, extra in {
        "default": {},
        "alone": {"stack": 1},
        "fast": {"stack_masks": "fast"},
    }.items():
        config = tiny_config(
            cache,
            name="auto",
            methods={"dann": {**FAST, "warmup_epochs": 1}},
            baseline=None,
            **extra,
        )
        run_experiment(
            parse_config(config, base_dir=tmp_path), run_dir=tmp_path / name, progress=False
        )
        runs[name] = sorted(read_jsonl(tmp_path / name / "results.jsonl"), key=lambda r: r["key"])
    assert all(r.pop("stacked") == {"masks": "exact"} for r in runs["default"])
    assert all(r.pop("stacked") == {"masks": "fast"} for r in runs["fast"])
    for stacked, alone, fast in zip(runs["default"], runs["alone"], runs["fast"], strict=True):
        for record in (stacked, alone, fast):
            record.pop("history")
        assert stacked == alone
        assert fast["metrics"] != alone["metrics"] or fast["confusion"] != alone["confusion"]
    # the report says which mode ran (and nothing where the run asked for no stacks)
    assert stacking_note(read_jsonl(tmp_path / "alone" / "results.jsonl")) is None
    assert "1 trial(s) in stacks with fast" in stacking_note([{"stacked": True}])  # older runs
    report = write_experiment_report(tmp_path / "fast").markdown.read_text()
    assert "Stacked training: 3 trial(s) in stacks with fast dropout masks: other" in report


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"source_weight": 0.5}, "source_weight other than 0 and 1"),
        ({"encoder": "cnn_gru"}, "only the MLP encoder stacks"),
        ({}, None),
    ],
)
def test_a_trial_whose_parameters_leave_no_stacked_step_is_planned_alone(params, reason):
    """The plan (and so the dry run) knows from a trial's parameters that it will run
    alone, and why, instead of finding out when its stack fails."""
    specs = _trial_specs("source_target", params, "few_shot", 2)
    units = stacking.plan_units(specs, specs, size=2)
    if reason is None:
        assert units == [stacking.TrialStack(tuple(specs), "exact")]
    else:
        assert all(isinstance(u, stacking.Alone) and reason in u.reason for u in units)


@pytest.mark.bad_input
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_stack_below_one_is_refused_before_any_data_is_read(tmp_path, cache, capsys, dry_run):
    import yaml  # noqa: PLC0415

    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(_config(cache, stack=2)))
    args = ["run", str(path), "--stack", "0", *(["--dry-run"] if dry_run else [])]
    assert main(args) == 2
    assert "--stack 0: give at least 1" in capsys.readouterr().err
    assert not (tmp_path / "corpus").exists()
