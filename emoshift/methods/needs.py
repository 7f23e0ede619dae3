"""What a method reads besides labelled source data, declared once on its class.

Every estimator class carries ``needs``: a :class:`MethodNeeds`, or a :class:`NeedsBy`
when the answer depends on one hyper-parameter (the SVM's ``pool``). The trial, the
config check and the contract test read it through
:func:`emoshift.methods.method_needs`.

Example:
    >>> by_pool = {"source": MethodNeeds(), "target": MethodNeeds(labelled_target=True)}
    >>> needs = NeedsBy("pool", by_pool)
    >>> needs.resolve({"pool": "target"}).labelled_target
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class MethodNeeds:
    """What a method reads besides labelled source data.

    Attributes:
        unlabelled_target: fit cannot run without unlabelled target rows.
        labelled_target: fit cannot run without a few labelled target examples.
        all_target_labels: reads the labels of every target training row (an upper
            bound, not adaptation).
        optional_unlabelled_target: reads unlabelled target rows when they are given
            (implied by ``unlabelled_target``).
        development_set: reads ``eval_set`` (early stopping or model selection).
        source_domains: reads which source domain each source row comes from
            (``fit(..., source_domains=...)``, multi-source training); optional: without
            it the source is one domain.
    """

    unlabelled_target: bool = False
    labelled_target: bool = False
    all_target_labels: bool = False
    optional_unlabelled_target: bool = False
    development_set: bool = False
    source_domains: bool = False

    def resolve(self, params: Mapping[str, object]) -> MethodNeeds:
        """The needs themselves (they do not depend on hyper-parameters)."""
        return self


@dataclass(frozen=True)
class NeedsBy:
    """Needs that depend on the value of one hyper-parameter.

    Attributes:
        param: the hyper-parameter's name.
        by_value: its allowed values and the needs that go with each.
    """

    param: str
    by_value: Mapping[object, MethodNeeds]

    def resolve(self, params: Mapping[str, object]) -> MethodNeeds:
        """The needs for ``params`` (which must hold ``param``)."""
        value = params[self.param]
        if value not in self.by_value:
            raise ValueError(
                f"{self.param}={value!r}; choose one of {sorted(self.by_value, key=str)}"
            )
        return self.by_value[value]


#: an unsupervised method whose ``multi_source=True`` also reads each source row's domain
#: (DANN's K-way domain head, per-source CORAL)
UNSUPERVISED_MULTI_SOURCE = NeedsBy(
    "multi_source",
    {
        False: MethodNeeds(unlabelled_target=True, development_set=True),
        True: MethodNeeds(unlabelled_target=True, development_set=True, source_domains=True),
    },
)
