"""The leave-one-corpus-out benchmark (issue 21): the choice for a target corpus never
reads a pair that involves it; each trial's records hold what the tables need."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import asdict, fields
from pathlib import Path

import pytest
from problems import shifted_binary_split

from emoshift.selection.guard import GuardSignals

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
_spec = importlib.util.spec_from_file_location(
    "leave_one_corpus_out", ROOT / "benchmarks" / "leave_one_corpus_out.py"
)
loco = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loco)


def _signals(separability: float = 0.6) -> dict:
    """Recorded guard signals: nothing raised but, when ``separability`` is far above the
    reference's 0.6, a wider domain gap."""
    return asdict(
        GuardSignals(
            adapted_balance=0.9,
            reference_balance=0.9,
            adapted_source_uar=0.8,
            reference_source_uar=0.8,
            adapted_reverse_uar=0.7,
            reference_reverse_uar=0.7,
            adapted_separability=separability,
            reference_separability=0.6,
            agreement=0.8,
            top_class="high",
            top_share=0.5,
        )
    )


def _models(source: float, mrd: float, separability: float = 0.6) -> dict[str, dict]:
    scores = {"entropy": 0.0}
    return {
        "source_only": {
            "uar": source,
            "combined_uar": source,
            "signals": _signals(),
            "scores": scores,
        },
        "mrd": {
            "uar": mrd,
            "combined_uar": (source + mrd) / 2,
            "signals": _signals(separability),
            "scores": scores,
        },
    }


def _units(on_baved: float) -> dict:
    """MRD gains 10 points on every pair without BAVED as target; ``on_baved`` on BAVED's."""
    units = {}
    for pair in ("emodb->urdu", "urdu->emodb", "emodb->baved", "urdu->baved"):
        gain = on_baved if pair.endswith("baved") else 0.10
        units[("arousal", pair)] = [_models(0.5, 0.5 + gain)] * 2
    return units


def test_the_choice_for_a_corpus_reads_only_pairs_without_it():
    rules = loco.configurations(["mrd"], ["entropy"])
    bad, good = (
        loco.choose_leave_one_out(_units(-0.2), rules),
        loco.choose_leave_one_out(_units(+0.2), rules),
    )
    # BAVED's choice is made on EmoDB <-> URDU alone, whatever happens on BAVED's pairs
    assert bad["baved"] == good["baved"] == ("mrd: always adapt", 2)
    # EmoDB's choice reads urdu->baved (mrd -20 there): it falls back to never adapting
    assert bad["emodb"][0] == "never adapt (source-only)"
    assert good["emodb"][0] == "mrd: always adapt"


def test_the_target_criterion_puts_fewer_losing_pairs_before_a_higher_mean_gain():
    # MRD gains 30 and loses 20 where the domain gap widens (the gap guard falls back on
    # both), and gains 10 where it does not: always adapting has the higher mean (+6.7)
    # with one pair below -2; the gap guard +3.3 with none
    units = {
        ("arousal", "emodb->urdu"): [_models(0.5, 0.8, separability=0.9)],
        ("arousal", "urdu->emodb"): [_models(0.5, 0.3, separability=0.9)],
        ("arousal", "emodb->baved"): [_models(0.5, 0.6)],
    }
    rules = loco.configurations(["mrd"], ["entropy"])
    assert loco.choose(units, rules, "mean gain") == "mrd: always adapt"
    assert loco.choose(units, rules, "fewest losses, then mean gain") == "mrd: guard +gap 0.05"
    # with no configuration better than never adapting, the tie goes to never adapting
    lost = {u: [_models(0.5, 0.3)] for u in units}
    assert loco.choose(lost, rules, "fewest losses, then mean gain").startswith("never")


def test_the_guard_rule_falls_back_to_source_only_and_combine_to_the_mean():
    models = _models(0.6, 0.4, separability=0.9)  # the domain gap widened by 0.3
    assert loco.DEFAULT_RULE == "+gap 0.10"  # emoshift's default margins
    assert loco._guarded("mrd")(models) == 0.6
    assert loco._guarded("mrd", combine=True)(models) == pytest.approx(0.5)
    assert loco._guarded("mrd")(_models(0.6, 0.4)) == 0.4
    # the first guard's two signals do not see a wider gap; each rule decides on its own
    assert loco._guarded("mrd", "collapse+damage")(models) == 0.4
    assert loco.guard_action(models["mrd"], "+gap 0.10") == "fallback"
    assert loco.guard_action(_models(0.6, 0.4, 0.7)["mrd"], "+gap 0.10") == "keep"


def test_the_tables_state_the_chosen_configuration_and_the_guard_targets(tmp_path):
    path = tmp_path / "records.jsonl"
    with path.open("w") as file:
        for (config, pair), trials in _units(-0.2).items():
            for trial, models in enumerate(trials):
                for method, record in models.items():
                    line = {"config": config, "pair": pair, "trial": trial, "method": method}
                    file.write(json.dumps({**line, **record}) + "\n")
    text = loco.markdown([path])
    assert "| baved | mrd: always adapt | 2 | 2 | -20.0 | 0 / 2 | -20.0 / -20.0 |" in text
    # among guarded configurations alone, BAVED's choice is one with the guard on
    guarded = text.split("among the configurations with the guard on")[1].split("####")[0]
    assert "| baved | mrd: guard " in guarded and "always adapt" not in guarded
    # a corpus outside the records gets the choice made on all four pairs
    assert "| a new corpus (in-sample: scored on the pairs it was chosen on) | " in text
    assert "| mrd (4 pairs) | collapse+damage | 0% of 40.0 | 100% of 20.0 | 0 of 8 |" in text
    # the guard rule for BAVED is chosen on EmoDB <-> URDU, where every rule ties
    assert "| mrd | baved | collapse+damage | 2 | 2 | 0% of 40.0 | no pair won |" in text


def test_a_trial_records_every_model_with_its_guard_signals_and_scores():
    split = shifted_binary_split()
    tiny = {"hidden_sizes": (8,), "max_epochs": 3}
    records = loco.loco_trial(split, 0, ["coral"], ["entropy", "source_dev"], overrides=tiny)
    assert [r["method"] for r in records] == ["source_only", "coral"]
    for record in records:
        assert 0 <= record["uar"] <= 1 and 0 <= record["combined_uar"] <= 1
        assert set(record["signals"]) == {f.name for f in fields(GuardSignals)}
        assert sorted(record["scores"]) == ["entropy", "source_dev"]
    # source-only against itself: the same predictions and representation
    assert records[0]["signals"]["agreement"] == 1.0
    assert loco.guard_action(records[0], loco.DEFAULT_RULE) == "keep"
    assert records[0]["combined_uar"] == records[0]["uar"]
