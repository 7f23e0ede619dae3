"""What every registered method shares: one ``fit`` signature and its declarations.

:class:`DomainEstimator` is a scikit-learn estimator whose ``fit`` takes labelled source
data and, optionally, unlabelled target data, a few labelled target examples and a
development set::

    fit(X, y, *, X_target=None, X_target_labelled=None, y_target_labelled=None,
        eval_set=None, source_domains=None)

It checks the hyper-parameters against the class's declarations (``_parameter_constraints``
and ``_parameter_rules``, see :mod:`emoshift.methods.params`) and hands the data to the
subclass's :meth:`DomainEstimator._fit_given`. The class also declares, in ``needs``,
what the method reads besides labelled source data (:mod:`emoshift.methods.needs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeVar

from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from emoshift.methods.needs import MethodNeeds, NeedsBy
from emoshift.methods.params import Rule, validate_params
from emoshift.methods.state import SavedState

E = TypeVar("E", bound=BaseEstimator)


def hyper_parameters(cls: type[E]) -> type[E]:
    """Class decorator: the estimator's hyper-parameters are its annotated fields, each
    declared once with its type and default.

    The generated keyword-only ``__init__`` stores every argument as it is given, which
    is what scikit-learn's ``get_params``/``clone`` read; equality, hashing and ``repr``
    stay scikit-learn's.

    Example:
        >>> @hyper_parameters
        ... class Scaled(BaseEstimator):
        ...     factor: float = 2.0
        >>> Scaled(factor=3.0).get_params(), Scaled()
        ({'factor': 3.0}, Scaled())
    """
    return dataclass(kw_only=True, eq=False, repr=False)(cls)


@dataclass(frozen=True)
class FitArguments:
    """The data passed to ``fit``, as given (unchecked)."""

    X: object
    y: object
    X_target: object | None = None
    X_target_labelled: object | None = None
    y_target_labelled: object | None = None
    eval_set: tuple[object, object] | None = None
    source_domains: object | None = None


class DomainEstimator(SavedState, BaseEstimator):
    """Base of every method: the shared ``fit``, declared needs and parameter constraints,
    and the fitted attributes a saved model keeps (``_saved_attributes``, see
    :class:`~emoshift.methods.state.SavedState`)."""

    #: what fit reads besides labelled source data
    needs: ClassVar[MethodNeeds | NeedsBy] = MethodNeeds()
    #: what each hyper-parameter may be (scikit-learn constraint objects)
    _parameter_constraints: ClassVar[dict[str, list[object]]] = {}
    #: rules that tie several hyper-parameters together
    _parameter_rules: ClassVar[tuple[Rule, ...]] = ()
    #: the fitted attribute whose presence means "fitted"
    _fitted_attribute: ClassVar[str] = ""

    def fit(
        self,
        X: object,
        y: object,
        *,
        X_target: object | None = None,
        X_target_labelled: object | None = None,
        y_target_labelled: object | None = None,
        eval_set: tuple[object, object] | None = None,
        source_domains: object | None = None,
    ) -> DomainEstimator:
        """Train on labelled source data and whatever target data the method uses.

        Args:
            X: source features (examples x features).
            y: source labels (classification) or targets (regression, 1 or more columns).
            X_target: unlabelled target features (for unsupervised adaptation).
            X_target_labelled: the few labelled target examples.
            y_target_labelled: their labels.
            eval_set: ``(X_dev, y_dev)`` for early stopping instead of a split of the
                training pool; pass only data the protocol allows (never target test).
            source_domains: which source domain (e.g. corpus) each row of ``X`` comes
                from, for multi-source methods (read only where ``needs`` declares
                ``source_domains``; ignored by the others).

        What a method reads of these is declared in its ``needs``; see its class.
        """
        self._check_params()
        return self._fit_given(
            FitArguments(
                X, y, X_target, X_target_labelled, y_target_labelled, eval_set, source_domains
            )
        )

    def _fit_given(self, given: FitArguments) -> DomainEstimator:
        """Fit on the given data; the hyper-parameters are already checked."""
        raise NotImplementedError

    def _check_params(self) -> None:
        """Check every hyper-parameter against the class's constraints and rules."""
        validate_params(
            type(self).__name__,
            self._parameter_constraints,
            self._parameter_rules,
            self.get_params(deep=False),
        )

    def _check_fitted(self) -> None:
        """Raise scikit-learn's ``NotFittedError`` before the first fit."""
        check_is_fitted(self, self._fitted_attribute)

    def _get_state(self) -> tuple[dict, dict]:
        """The fitted state a saved model keeps; ``NotFittedError`` before ``fit``."""
        self._check_fitted()
        return super()._get_state()
