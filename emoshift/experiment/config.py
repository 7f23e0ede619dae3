"""Experiment configs: YAML validated against a typed schema.

An unknown or misspelled key is an error that names the key, where it is, and the
nearest valid key. Method hyper-parameters are checked against the method's own
parameters; a list of values is expanded as a grid (a list where the parameter takes a
sequence, such as ``hidden_sizes: [256, 128]``, is one value; a list of lists is a grid).
A method's ``variants:`` lists grids to run one after the other instead of their product
(e.g. a paper's four deep networks and one shallow one): each entry is expanded with the
method's other parameters, which it may not set again.

Example:
    >>> config = parse_config({
    ...     "name": "demo", "corpora": {"synth": {"loader": "synthetic", "path": "corpus"}},
    ...     "pairs": [{"source": "elicitation == 'acted'",
    ...                "target": "elicitation == 'spontaneous'"}],
    ...     "methods": {"source_only": {}, "dann": {"lambda_max": [0.5, 1.0]}},
    ... })
    >>> config.protocol.name, config.trials
    ('cross_domain', 5)
    >>> try:
    ...     parse_config({"name": "x", "corproa": {}})
    ... except ConfigError as error:
    ...     print(error)
    config: unknown key 'corproa'; did you mean 'corpora'?
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml

from emoshift.data.query import QueryError, parse_query
from emoshift.experiment.method_grid import VARIANTS, expand_method_grid
from emoshift.experiment.schema import ConfigError, _build, _check_choice, _suggest
from emoshift.experiment.streams import check_second_stream
from emoshift.features.normalise import LEVELS
from emoshift.methods import method_class, method_needs
from emoshift.methods.stacked_networks import MASKS
from emoshift.metrics import METRICS
from emoshift.protocols import PROTOCOLS, ProtocolSettings
from emoshift.safe_yaml import load_yaml
from emoshift.selection import SCORERS
from emoshift.selection.few_shot import RULES
from emoshift.selection.guard import DEFAULT_MARGINS, ON_RISK

TASKS = ("classification", "regression")
EXECUTORS = ("serial", "processes", "ray")
#: the scorers a ``selection:`` block may name: the unsupervised ones, and
#: cross-validation on the labelled target examples (protocols that give them)
SELECTION_SCORERS = (*SCORERS, "few_shot_cv")
Spec = TypeVar("Spec")


@dataclass
class CorpusConfig:
    """One corpus: a loader name (or ``synthetic``), its folder and loader options.

    ``extra_columns``: a CSV/TSV file (relative to the config's folder) with a ``file``
    column (audio paths, absolute or relative to the corpus folder) whose other columns
    are joined onto the loaded corpus table by audio file, e.g. the ``face_npy`` column
    a second stream reads (:class:`SecondStreamConfig`).
    """

    loader: str
    path: str
    options: dict = field(default_factory=dict)
    query: str | None = None
    extra_columns: str | None = None


@dataclass
class SecondStreamConfig:
    """A second per-frame stream next to the audio frames (``features.second_stream``).

    ``column`` of the corpus table names one ``.npy`` file per utterance, a float array
    of ``(T', D)`` frames (e.g. face embeddings per video frame), read with
    ``allow_pickle=False``; relative paths start at ``root`` (itself relative to the
    config's folder; default: the config's folder). ``normalisation`` (``none``,
    ``robust_z`` or ``minmax``) is computed over all frames of each normalisation
    domain (``features.domain``; per domain even where ``features.level: speaker``
    normalises the audio per speaker). The CNN-GRU reads the stream with a GRU of its own
    (:mod:`emoshift.methods.sequence`), so every method must use ``encoder: cnn_gru``.
    """

    column: str
    root: str | None = None
    normalisation: str = "none"


@dataclass
class FeaturesConfig:
    """Feature set and normalisation (per ``domain`` column, e.g. corpus, or with
    ``level: speaker`` per speaker within it).

    ``model`` .. ``batch_size`` apply to ``set: ssl`` only (``None``: its defaults;
    see :class:`emoshift.features.ssl.SSLFeatures`; ``chunk_seconds: 0``: whole files;
    ``device`` and ``batch_size`` say where and how many windows at a time the checkpoint
    runs, not what it computes, so a model bundle does not keep them).
    ``second_stream``: per-utterance ``.npy`` frames read next to a frame-level set
    (:class:`SecondStreamConfig`).
    """

    set: str = "egemaps"
    normalisation: str = "robust_z"
    level: str = "domain"
    domain: str = "corpus"
    cache_dir: str | None = None
    jobs: int | None = None
    on_error: str = "skip"
    model: str | None = None
    layers: int | str | list[int] | None = None
    combine: str | None = None
    pooling: str | None = None
    chunk_seconds: float | None = None
    device: str | None = None
    batch_size: int | None = None
    second_stream: SecondStreamConfig | None = None


@dataclass
class LabelsConfig:
    """Label space for classification, or the dimensions for regression.

    ``separate``: one model per dimension (each trial regresses one of ``dimensions``)
    instead of one model with an output per dimension. ``scale``: the ``[low, high]`` the
    normalised [-1, 1] scores are mapped onto, so losses and RMSE are on a paper's scale
    (e.g. ``[-3, 3]``, MSP-Podcast's 1-7 centred); CCC and PCC do not change.
    """

    space: str | None = "four_class"
    column: str = "emotion"
    dimensions: list[str] = field(default_factory=lambda: ["arousal", "valence"])
    options: dict = field(default_factory=dict)
    separate: bool = False
    scale: list[float] | None = None


@dataclass
class PairConfig:
    """A source/target pair, each a query over the union of the corpora's tables."""

    source: str
    target: str
    name: str | None = None

    def label(self) -> str:
        return self.name or f"{self.source} -> {self.target}"


@dataclass
class SelectionConfig:
    """How a method's hyper-parameters are chosen inside every trial (``selection.<method>``).

    Each scorer gives a variant of its own (``dann[select=snd]``) next to the method's
    default variant. ``grid`` is checked like the method's parameters (a list is a grid)
    and, when given, must hold two points or more (without it, the block only records the
    scorer's value of the method's own parameters);
    ``epochs`` adds ``max_epochs`` to it; ``oracle`` also records each grid point's
    target-test score, which the report shows only as not a valid choice. ``cv`` (folds
    or ``"loo"``), ``repeats`` (fold draws averaged) and ``rule`` (``best``, or ``one_se``:
    keep the ``source_weight: 0`` fall-back unless the best point beats it by more than one
    standard error, :mod:`emoshift.selection.few_shot`) are for ``few_shot_cv``,
    ``dev_fraction`` and ``scorer_params`` for the unsupervised scorers.
    """

    scorer: list[str]
    grid: dict | None = None
    epochs: list[int] | None = None
    oracle: bool = False
    cv: int | str = 5
    repeats: int = 1
    rule: str = "best"
    dev_fraction: float = 0.2
    scorer_params: dict = field(default_factory=dict)


@dataclass
class GuardConfig:
    """The negative-transfer guard around an unsupervised method (``guard.<method>``).

    It gives a variant of its own (``mrd[guard]``) next to the method's default variant:
    each trial fits the method and a source-only reference, and keeps the adapted model
    only where :func:`emoshift.selection.guard.guard_decision` sees no harm. A margin set
    to ``null`` switches its signal off; the defaults are
    :data:`emoshift.selection.guard.DEFAULT_MARGINS`.
    """

    balance_margin: float | None = DEFAULT_MARGINS["balance_margin"]
    source_margin: float | None = DEFAULT_MARGINS["source_margin"]
    reverse_margin: float | None = DEFAULT_MARGINS["reverse_margin"]
    domain_margin: float | None = DEFAULT_MARGINS["domain_margin"]
    on_risk: str = "fallback"
    dev_fraction: float = 0.2


@dataclass
class ExperimentConfig:
    """A whole experiment: a grid of methods x pairs x protocol conditions x trials."""

    name: str
    corpora: dict[str, CorpusConfig]
    pairs: list[PairConfig]
    methods: dict[str, dict]
    selection: dict[str, SelectionConfig] = field(default_factory=dict)
    guard: dict[str, GuardConfig] = field(default_factory=dict)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    protocol: ProtocolSettings = field(default_factory=ProtocolSettings)
    task: str = "classification"
    metrics: list[str] | None = None
    baseline: str | None = "source_only"
    trials: int = 5
    seed: int = 0
    comparison: dict = field(default_factory=dict)
    output: str | None = None
    executor: str = "serial"
    jobs: int | None = None
    stack: int | str = "auto"
    stack_masks: str = "exact"
    base_dir: str = "."

    def output_dir(self) -> Path:
        """The run folder: ``output`` (relative to the config file) or ``runs/<name>``."""
        out = Path(self.output or Path("runs") / self.name)
        return out if out.is_absolute() else Path(self.base_dir) / out


def _check_queries(config: ExperimentConfig) -> None:
    """Parse every domain query now, so a query outside the grammar fails at load time."""
    queries = {f"config.corpora.{n}.query": c.query for n, c in config.corpora.items()}
    for i, pair in enumerate(config.pairs):
        queries |= {
            f"config.pairs[{i}].source": pair.source,
            f"config.pairs[{i}].target": pair.target,
        }
    for where, query in queries.items():
        if query:
            try:
                parse_query(query, where)
            except QueryError as error:
                raise ConfigError(str(error)) from None


def _check_protocol(config: ExperimentConfig, raw: object) -> None:
    """The protocol's name, settings and task, and what it gives the methods."""
    settings = config.protocol
    _check_choice(settings.name, tuple(PROTOCOLS), "config.protocol.name")
    protocol = PROTOCOLS[settings.name]
    unused = sorted(set(raw if isinstance(raw, dict) else ()) - {"name", *protocol.settings})
    if unused:
        reads = list(protocol.settings) or "nothing besides its name"
        raise ConfigError(
            f"config.protocol: {settings.name} does not use {unused}; it reads {reads}"
        )
    try:
        settings.check()
    except ValueError as error:
        raise ConfigError(f"config.protocol.{error}") from None
    if config.task not in protocol.tasks:
        raise ConfigError(
            f"config.protocol.name: {settings.name} cuts {' or '.join(protocol.tasks)} data "
            f"only, not {config.task}; choose another protocol or task"
        )
    givers = [name for name, p in PROTOCOLS.items() if p.labelled_target]
    for method, params in config.methods.items():
        grid = expand_method_grid(method, params or {}, f"config.methods.{method}")
        needs = [method_needs(method, point) for point in grid]
        labelled_pool = getattr(settings, "target_train", None) is not None
        if (
            protocol.unlabelled_pool
            and not labelled_pool
            and any(need.all_target_labels for need in needs)
        ):
            raise ConfigError(
                f"config.methods.{method}: {method} reads every target training label, "
                f"and protocol {settings.name}'s target training rows are unlabelled "
                "(name labelled training rows with target_train)"
            )
        cross_validated = getattr(settings, "label_folds", None) is not None
        if (
            protocol.transductive
            and not cross_validated
            and any(need.all_target_labels for need in needs)
        ):
            raise ConfigError(
                f"config.methods.{method}: {method} reads every target training label, and "
                f"protocol {settings.name} trains and scores on the same target rows, so it "
                "would be scored on the labels it learnt; set protocol.label_folds (e.g. 5) "
                "to run it as a speaker-independent cross-validation of the target"
            )
        if not protocol.labelled_target and any(need.labelled_target for need in needs):
            raise ConfigError(
                f"config.methods.{method}: {method} needs labelled target examples, which "
                f"protocol {settings.name} does not give; use one of {givers} or drop it"
            )


def selection_grid(config: ExperimentConfig, method: str, params: dict) -> list[dict]:
    """The grid points that ``selection.<method>`` chooses among, for one of the method's
    variants ``params`` (each point checked with them, for the config's task)."""
    spec = config.selection[method]
    where = f"config.selection.{method}"
    given = spec.grid or {}
    chosen = set(given) | ({"max_epochs"} if spec.epochs else set())
    given_params = dict(config.methods.get(method) or {})
    for variant in given_params.pop(VARIANTS, None) or []:
        given_params |= variant if isinstance(variant, dict) else {}
    fixed = sorted(chosen & set(given_params))
    if fixed:
        raise ConfigError(
            f"{where}.grid: {fixed} also set in config.methods.{method}; set each parameter "
            "in one place (the grid chooses among its values)"
        )
    grid = {**given, "max_epochs": list(spec.epochs)} if spec.epochs else given
    if spec.epochs and "max_epochs" in given:
        raise ConfigError(f"{where}: give max_epochs in grid or as epochs, not both")
    expand_method_grid(method, {**params, **grid}, f"{where}.grid", config.task)
    points = expand_method_grid(method, grid, f"{where}.grid")
    if (spec.grid is not None or spec.epochs is not None) and len(points) < 2:
        raise ConfigError(
            f"{where}.grid: {grid} gives {len(points)} point(s), so the "
            f"'{method}[select=...]' variant would select nothing; list two values or more "
            "for a parameter (e.g. lambda_max: [1.0, 0.1]), or leave grid out to only "
            "record the scorer's value of the method's own parameters"
        )
    return points


def _check_scorer(config: ExperimentConfig, method: str, scorer: str, where: str) -> None:
    """A scorer the protocol, task and method allow."""
    _check_choice(scorer, SELECTION_SCORERS, where)
    protocol = PROTOCOLS[config.protocol.name]
    if config.task != "classification":
        raise ConfigError(f"{where}: selection scorers are for classification, not {config.task}")
    if scorer == "few_shot_cv" and not protocol.labelled_target:
        givers = [name for name, p in PROTOCOLS.items() if p.labelled_target]
        raise ConfigError(
            f"{where}: few_shot_cv cross-validates on labelled target examples, which "
            f"protocol {protocol.name} does not give; use one of {givers} or an "
            f"unsupervised scorer {list(SCORERS)}"
        )
    if scorer == "few_shot_cv" and protocol.name == "few_shot" and min(config.protocol.k) < 2:
        raise ConfigError(
            f"{where}: few_shot_cv holds labelled target examples out, which needs k >= 2 "
            f"per class; config.protocol.k has {min(config.protocol.k)}"
        )
    points = expand_method_grid(method, config.methods.get(method) or {}, where)
    if scorer != "few_shot_cv" and any(method_needs(method, p).labelled_target for p in points):
        raise ConfigError(
            f"{where}: {method} trains on labelled target examples, which the unsupervised "
            f"scorer {scorer!r} cannot pass it; use few_shot_cv"
        )


def _per_method(
    config: ExperimentConfig, block: str, specs: dict[str, Spec]
) -> Iterator[tuple[str, Spec, str]]:
    """``(method, spec, where)`` of each entry of a per-method block (``selection``,
    ``guard``), its method checked to be among ``config.methods``."""
    for method, spec in specs.items():
        where = f"config.{block}.{method}"
        if method not in config.methods:
            raise ConfigError(
                f"{where}: {method!r} is not among the methods {list(config.methods)}"
                f"{_suggest(method, config.methods)}"
            )
        yield method, spec, where


def _check_dev_fraction(fraction: float, where: str) -> None:
    if not 0 < fraction < 1:
        raise ConfigError(f"{where}: {fraction} is not in (0, 1)")


def _check_rule(spec: SelectionConfig, where: str) -> None:
    """``rule`` is known, and ``one_se`` has its scorer (its fall-back point is checked on
    the expanded grid, :func:`_check_fall_back`)."""
    if spec.rule not in RULES:
        raise ConfigError(f"{where}.rule: {spec.rule!r}; choose one of {list(RULES)}")
    if spec.rule == "best":
        return
    if spec.scorer != ["few_shot_cv"]:
        raise ConfigError(
            f"{where}.rule: one_se is a rule of few_shot_cv only; give scorer: few_shot_cv"
        )


def _check_selection(config: ExperimentConfig) -> None:
    """Each ``selection:`` block: a listed method, known scorers, a valid grid."""
    for method, spec, where in _per_method(config, "selection", config.selection):
        if not spec.scorer:
            raise ConfigError(f"{where}.scorer: name at least one scorer")
        for i, scorer in enumerate(spec.scorer):
            _check_scorer(config, method, scorer, f"{where}.scorer[{i}]")
        if spec.cv != "loo" and (not isinstance(spec.cv, int) or spec.cv < 2):
            raise ConfigError(f"{where}.cv: {spec.cv!r}; give 2 or more folds or 'loo'")
        if spec.repeats < 1 or (spec.repeats > 1 and spec.cv == "loo"):
            raise ConfigError(
                f"{where}.repeats: {spec.repeats}; give 1 or more fold draws (1 with cv: loo)"
            )
        _check_rule(spec, where)
        for scorer in set(spec.scorer) & set(SCORERS):
            options = list(inspect.signature(SCORERS[scorer]).parameters)[2:]
            unknown = sorted(set(spec.scorer_params) - set(options))
            if unknown:
                raise ConfigError(
                    f"{where}.scorer_params: {unknown} are not options of scorer {scorer!r}; "
                    f"its options are {options}"
                )
        _check_dev_fraction(spec.dev_fraction, f"{where}.dev_fraction")
        for params in expand_method_grid(method, config.methods[method] or {}, where):
            _check_fall_back(spec, selection_grid(config, method, params), where)


def _check_fall_back(spec: SelectionConfig, points: list[dict], where: str) -> None:
    """``rule: one_se`` needs a grid point at ``source_weight`` 0 (label_target)."""
    if spec.rule == "one_se" and not any(p.get("source_weight") == 0 for p in points):
        raise ConfigError(
            f"{where}.rule: one_se falls back to source_weight 0 (label_target); add 0.0 to "
            "grid.source_weight"
        )


def _check_guard(config: ExperimentConfig) -> None:
    """Each ``guard:`` block: a listed unsupervised classification method, valid margins."""
    for method, spec, where in _per_method(config, "guard", config.guard):
        if config.task != "classification":
            raise ConfigError(f"{where}: the guard is for classification, not {config.task}")
        for params in expand_method_grid(method, config.methods[method] or {}, where):
            needs = method_needs(method, params)
            if needs.labelled_target or needs.all_target_labels or not needs.unlabelled_target:
                raise ConfigError(
                    f"{where}: the guard wraps unsupervised adaptation (a method that reads "
                    f"unlabelled target rows and no target label); {method} is not one"
                )
        _check_choice(spec.on_risk, ON_RISK, f"{where}.on_risk")
        for name in DEFAULT_MARGINS:
            if getattr(spec, name) is not None and getattr(spec, name) < 0:
                raise ConfigError(f"{where}.{name}: {getattr(spec, name)} must be >= 0")
        _check_dev_fraction(spec.dev_fraction, f"{where}.dev_fraction")


def _check_comparison(config: ExperimentConfig) -> None:
    """The ``comparison`` block: test, sidedness and matched parameters (see
    :class:`emoshift.report.trial_tables.Comparison`)."""
    if not config.comparison:
        return
    from emoshift.report.trial_tables import Comparison  # the report's schema, loaded on use

    try:
        comparison = Comparison.from_config(config.comparison)
    except ValueError as error:
        raise ConfigError(f"config.comparison: {error}") from None
    if comparison.match and config.baseline is not None:
        params = method_class(config.baseline)().get_params()
        for name in comparison.match:
            if name not in params:
                raise ConfigError(
                    f"config.comparison.match: {name!r} is not a parameter of the baseline "
                    f"{config.baseline}{_suggest(str(name), params)}"
                )


def _check_labels(config: ExperimentConfig) -> None:
    scale = config.labels.scale
    if scale is not None and (len(scale) != 2 or not scale[0] < scale[1]):
        raise ConfigError(
            f"config.labels.scale: {scale} must be [low, high] with low < high, e.g. [-3, 3]"
        )
    if config.labels.separate and config.task != "regression":
        raise ConfigError("config.labels.separate: one model per dimension is for regression")


def _check_metrics(config: ExperimentConfig) -> None:
    for i, name in enumerate(config.metrics or ()):
        where = f"config.metrics[{i}]"
        if name not in METRICS:
            raise ConfigError(f"{where}: unknown metric {name!r}{_suggest(name, METRICS)}")
        if METRICS[name].task != config.task:
            fitting = [m for m, metric in METRICS.items() if metric.task == config.task]
            raise ConfigError(
                f"{where}: {name!r} is a {METRICS[name].task} metric; {config.task} "
                f"metrics are {fitting}"
            )


def parse_config(
    data: object, base_dir: str | os.PathLike = ".", *, for_training: bool = False
) -> ExperimentConfig:
    """Validate a config mapping (as loaded from YAML) and return the typed config.

    Everything that needs no data is checked here; what needs the data is checked by
    :func:`emoshift.experiment.protocols.check_data` before any training.
    ``for_training`` (``emoshift train``: one model, nothing to compare) sets ``baseline``
    to ``None``, so a config need not list its baseline method.
    """
    config = _build(ExperimentConfig, data, "config")
    config.base_dir = str(base_dir)
    if for_training:
        config.baseline = None
    _check_choice(config.task, TASKS, "config.task")
    _check_choice(config.executor, EXECUTORS, "config.executor")
    _check_choice(config.features.level, LEVELS, "config.features.level")
    if not config.corpora:
        raise ConfigError("config.corpora: name at least one corpus")
    if not config.pairs:
        raise ConfigError("config.pairs: name at least one source/target pair")
    if not config.methods:
        raise ConfigError("config.methods: name at least one method")
    if config.trials < 1:
        raise ConfigError("config.trials: must be at least 1")
    if config.stack != "auto" and (
        not isinstance(config.stack, int) or isinstance(config.stack, bool) or config.stack < 1
    ):
        raise ConfigError(
            f"config.stack: {config.stack!r}; give a number of trials, at least 1 (1: every "
            "trial trains alone), or auto"
        )
    _check_choice(config.stack_masks, MASKS, "config.stack_masks")
    _check_queries(config)
    for method, params in config.methods.items():
        expand_method_grid(method, params or {}, f"config.methods.{method}", config.task)
    _check_protocol(config, data.get("protocol"))
    _check_selection(config)
    _check_guard(config)
    check_second_stream(config)
    _check_labels(config)
    _check_comparison(config)
    _check_metrics(config)
    if config.baseline is not None and config.baseline not in config.methods:
        raise ConfigError(
            f"config.baseline: {config.baseline!r} is not among the methods "
            f"{list(config.methods)}; add it or set baseline: null"
        )
    return config


def load_config(path: str | os.PathLike, *, for_training: bool = False) -> ExperimentConfig:
    """Read and validate a YAML experiment config; relative paths resolve from its folder
    (``for_training``: see :func:`parse_config`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"experiment config {path} does not exist")
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    try:
        return parse_config(data, base_dir=path.resolve().parent, for_training=for_training)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
