"""A method's ``variants:``: grids run one after another instead of their product (issue 20:
the DANN paper compares five structures, four deep networks and one shallow one, Sec.
IV-C and Table II; the product of its depths and heads gave three networks it never ran)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emoshift.experiment.config import ConfigError, expand_method_grid, load_config
from emoshift.experiment.plan import plan_trials

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
DEEP = [(256,), (256, 256), (256, 256, 256), (256, 256, 256, 256)]


def test_variants_expand_each_grid_with_the_shared_parameters_in_turn():
    points = expand_method_grid(
        "dann",
        {
            "lr": 0.001,
            "variants": [
                {"hidden_sizes": [[8], [8, 8]], "head_hidden_sizes": [8]},
                {"hidden_sizes": [8], "head_hidden_sizes": [], "lambda_max": [0.5, 1.0]},
            ],
        },
    )
    assert [(p["hidden_sizes"], p["head_hidden_sizes"]) for p in points] == [
        ((8,), (8,)),
        ((8, 8), (8,)),
        ((8,), ()),
        ((8,), ()),
    ]
    assert [p.get("lambda_max") for p in points] == [None, None, 0.5, 1.0]
    assert {p["lr"] for p in points} == {0.001}


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lr": 0.1, "variants": [{"lr": 0.2}]}, r"dann\.variants\[0\]: \['lr'\] also set"),
        ({"variants": [{"hidden_sizes": [8]}, {"hidden_sizes": [[8]]}]}, r"variants\[1\]: .*"),
        ({"variants": {"hidden_sizes": [8]}}, r"dann\.variants: a list of parameter mappings"),
        ({"variants": []}, r"dann\.variants: a list of parameter mappings"),
        ({"variants": [{"hiden_sizes": [8]}]}, r"dann\.variants\[0\]: dann has no parameter"),
    ],
)
def test_bad_variants_name_the_entry_and_what_to_do(params, message):
    with pytest.raises(ConfigError, match=message):
        expand_method_grid("dann", params, "dann")


def test_dann_preset_runs_the_papers_five_structures_with_matched_baselines():
    config = load_config(CONFIGS / "published_dann_msp_podcast.yaml")
    for method in ("dann", "source_only", "train_on_target"):
        points = expand_method_grid(method, config.methods[method])
        structures = [(p["hidden_sizes"], p["head_hidden_sizes"]) for p in points]
        assert structures == [(d, (256,)) for d in DEEP] + [((256,), ())], method
    specs = plan_trials(config)
    dann = sorted({s.variant for s in specs if s.method == "dann"})
    assert len(dann) == 5 and "dann[head_hidden_sizes=[],hidden_sizes=[256]]" in dann
    assert len({s.key for s in specs}) == len(specs)
