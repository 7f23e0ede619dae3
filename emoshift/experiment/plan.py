"""The trials of an experiment: the grid expanded, each keyed by a hash of its spec.

A trial's key hashes everything that determines its numbers (data, features, labels,
pair, protocol and condition, method and hyper-parameters, the in-trial model selection
when the config has one, trial index and seed), so a changed setting gives a new key and a
finished trial is never mistaken for another.

Example:
    >>> from emoshift.experiment.config import parse_config
    >>> config = parse_config({
    ...     "name": "doc", "corpora": {"s": {"loader": "synthetic", "path": "c"}},
    ...     "pairs": [{"source": "elicitation == 'acted'",
    ...                "target": "elicitation == 'spontaneous'", "name": "a->s"}],
    ...     "methods": {"source_only": {}, "dann": {"lambda_max": [0.5, 1.0]}},
    ...     "trials": 2})
    >>> trials = plan_trials(config)
    >>> len(trials), trials[0].variant, trials[-1].variant
    (6, 'source_only', 'dann[lambda_max=1.0]')
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from emoshift.experiment.config import ExperimentConfig, selection_grid
from emoshift.experiment.method_grid import expand_method_grid
from emoshift.protocols import Condition, ProtocolSettings, get_protocol


@dataclass
class TrialSpec:
    """Everything one trial needs besides the data."""

    experiment: str
    method: str
    params: dict
    variant: str
    pair: str
    source: str
    target: str
    protocol: str
    trial: int
    seed: int
    task: str
    metrics: list[str] | None
    k: int | None = None
    size: int | float | None = None
    fold: str | None = None
    n_trials: int = 1
    target_test_fraction: float = 0.5
    speaker_independent: bool = True
    exclusive: bool = True
    protocol_options: dict = field(default_factory=dict)
    dimension: str | None = None
    data_spec: dict = field(default_factory=dict)
    selection: dict | None = None
    key: str = ""

    def compute_key(self) -> str:
        """sha256 of the canonical JSON of every field but the key itself (and but
        ``selection``, ``protocol_options`` and ``dimension`` when unset, so keys from
        before hold)."""
        spec = dataclasses.asdict(self)
        spec.pop("key")
        for name, unset in (("selection", None), ("protocol_options", {}), ("dimension", None)):
            if spec[name] == unset:
                spec.pop(name)
        text = json.dumps(spec, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def condition(self) -> str:
        """A short text of the trial's condition, for progress and dry runs."""
        return Condition(k=self.k, size=self.size, fold=self.fold).text()


def _variant(method: str, params: dict, grid_keys: set[str]) -> str:
    shown = {k: v for k, v in params.items() if k in grid_keys}
    if not shown:
        return method
    inner = ",".join(
        f"{k}={list(v) if isinstance(v, tuple) else v}" for k, v in sorted(shown.items())
    )
    return f"{method}[{inner}]"


#: feature settings added after runs were made: left out of the keys at these defaults,
#: so that those runs resume
LATER_DEFAULTS = {"level": "domain"}


def _data_spec(config: ExperimentConfig) -> dict:
    return {
        "corpora": {
            n: {k: v for k, v in dataclasses.asdict(c).items() if (k, v) != ("extra_columns", None)}
            for n, c in config.corpora.items()
        },
        "features": {
            k: v
            for k, v in dataclasses.asdict(config.features).items()
            if k not in ("cache_dir", "jobs")
            and v is not None
            and LATER_DEFAULTS.get(k, object()) != v
        },
        "labels": {
            name: value
            for name, value in dataclasses.asdict(config.labels).items()
            if (name, value) not in (("separate", False), ("scale", None))  # keys as before
        },
    }


def _selected(name: str, scorer: str) -> str:
    """The variant name of ``name`` with its hyper-parameters chosen by ``scorer``."""
    return f"{name[:-1]},select={scorer}]" if name.endswith("]") else f"{name}[select={scorer}]"


def _selection_spec(config: ExperimentConfig, method: str, params: dict, scorer: str) -> dict:
    """What a trial needs to choose ``method``'s hyper-parameters with ``scorer``."""
    spec = config.selection[method]
    return {
        "scorer": scorer,
        "grid": selection_grid(config, method, params),
        "oracle": spec.oracle,
        "cv": spec.cv,
        **({"repeats": spec.repeats} if spec.repeats != 1 else {}),  # keys as before at 1
        **({"rule": spec.rule} if spec.rule != "best" else {}),
        "dev_fraction": spec.dev_fraction,
        "scorer_params": dict(spec.scorer_params),
    }


def _guard_spec(config: ExperimentConfig, method: str) -> dict:
    """What a trial needs to run ``method`` behind the negative-transfer guard."""
    return {"scorer": "guard", "grid": [], **dataclasses.asdict(config.guard[method])}


def _variants(config: ExperimentConfig) -> list[tuple[str, dict, str, dict | None]]:
    """``(method, params, variant name, selection)`` for every point of every method's
    grid, one more per ``selection`` scorer of the method, and one behind the ``guard``."""
    variants = []
    for method, params in config.methods.items():
        grid = expand_method_grid(method, params or {}, f"config.methods.{method}")
        keys = {  # the parameters that differ between points (those of variants too)
            k
            for k in set().union(*grid)
            if len(grid) > 1 and len({str(g.get(k)) for g in grid}) > 1
        }
        for point in grid:
            name = _variant(method, point, keys)
            variants.append((method, point, name, None))
            scorers = config.selection[method].scorer if method in config.selection else []
            variants += [
                (method, point, _selected(name, s), _selection_spec(config, method, point, s))
                for s in scorers
            ]
            if method in config.guard:
                guarded = f"{name[:-1]},guard]" if name.endswith("]") else f"{name}[guard]"
                variants.append((method, point, guarded, _guard_spec(config, method)))
    return variants


#: protocol settings a trial carries in ``protocol_options`` when not at their default
PROTOCOL_OPTIONS = (
    "unknown_speakers",
    "exclusive_runs",
    "dev_as_unlabelled",
    "target_test",
    "target_unlabelled",
    "k_counts",
    "n_folds",
    "dev_fraction",
    "unsampled_as_unlabelled",
    "target_train",
    "label_folds",
)


def _protocol_options(settings: ProtocolSettings) -> dict:
    defaults = ProtocolSettings()
    return {
        name: getattr(settings, name)
        for name in PROTOCOL_OPTIONS
        if getattr(settings, name) != getattr(defaults, name)
    }


def _common_fields(config: ExperimentConfig, n_trials: int, data_fingerprint: str) -> dict:
    """The :class:`TrialSpec` fields every trial of the config shares."""
    settings = config.protocol
    return {
        "experiment": config.name,
        "protocol": settings.name,
        "seed": config.seed,
        "task": config.task,
        "metrics": config.metrics,
        "n_trials": n_trials,
        "target_test_fraction": settings.target_test_fraction,
        "speaker_independent": settings.speaker_independent,
        "exclusive": settings.exclusive,
        "protocol_options": _protocol_options(settings),
        "data_spec": {**_data_spec(config), "fingerprint": data_fingerprint},
    }


def plan_trials(
    config: ExperimentConfig,
    folds: dict[str, list[str]] | None = None,
    data_fingerprint: str = "",
) -> list[TrialSpec]:
    """Every trial of the config, in a stable order.

    ``folds`` maps a pair's label to its target speakers; the protocols whose conditions
    are folds (``loso``, ``reduced``) need it (see
    :func:`emoshift.experiment.protocols.target_speakers`).
    ``data_fingerprint`` (:meth:`ExperimentData.fingerprint`) enters every key.
    """
    settings = config.protocol
    protocol = get_protocol(settings.name)
    n_trials = protocol.n_trials(settings, config.trials)
    common = _common_fields(config, n_trials, data_fingerprint)
    variants = _variants(config)
    separate = config.task == "regression" and config.labels.separate
    dimensions = list(config.labels.dimensions) if separate else [None]
    trials: list[TrialSpec] = []
    for pair in config.pairs:
        pair_folds = (folds or {}).get(pair.label())
        if protocol.uses_folds and pair_folds is None:
            raise ValueError(
                f"protocol {settings.name} needs the target speakers of pair {pair.label()!r}"
            )
        for dimension in dimensions:
            # one model per dimension: its own pair row in the report, e.g. "a->b [arousal]"
            label = pair.label() if dimension is None else f"{pair.label()} [{dimension}]"
            for condition in protocol.conditions(settings, pair_folds):
                for trial in range(n_trials):
                    for method, params, variant, selection in variants:
                        spec = TrialSpec(
                            method=method,
                            params=params,
                            variant=variant,
                            selection=selection,
                            pair=label,
                            source=pair.source,
                            target=pair.target,
                            trial=trial,
                            dimension=dimension,
                            **common,
                            **dataclasses.asdict(condition),
                        )
                        spec.key = spec.compute_key()
                        trials.append(spec)
    return trials
