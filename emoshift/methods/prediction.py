"""Prediction for :class:`~emoshift.methods.base.NeuralEstimator`: ``predict``,
``predict_proba``, ``transform`` and ``score`` over the fitted networks (``modules_``),
in chunks, with a seed ensemble's average where the model is one
(:mod:`emoshift.methods.ensemble`).
"""

from __future__ import annotations

import numpy as np
import torch

from emoshift.methods.batching import Inputs, map_chunks, take
from emoshift.methods.ensemble import ensemble_predict, ensemble_proba
from emoshift.methods.inputs import check_input_kind, check_inputs, check_width
from emoshift.methods.preparation import on_device
from emoshift.metrics import ccc, uar


class Predictions:
    """What a fitted neural estimator answers; the estimator supplies ``_forward``,
    ``modules_``, ``device_`` and the fitted widths and classes."""

    def _check_predict_inputs(self, X: object) -> Inputs:
        """``X`` checked against what the model was fitted on, on the device."""
        self._check_fitted()
        inputs = check_inputs(X, "X")
        check_input_kind(inputs, self.encoder, "X")
        check_width(inputs, self.sequence_widths_ or self.n_features_in_, "X")
        return on_device(inputs, self.device_)

    @torch.no_grad()
    def _outputs(self, X: object) -> np.ndarray:
        inputs = self._check_predict_inputs(X)
        self.modules_.eval()
        return map_chunks(self._forward, inputs, self.device_).cpu().numpy()

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities (classification only), columns in ``classes_`` order."""
        if self.task != "classification":
            raise AttributeError("predict_proba is for classification; use predict")
        if "members_" in vars(self):
            return ensemble_proba(self, X)
        logits = torch.as_tensor(self._outputs(X))
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X: object) -> np.ndarray:
        """Class labels, or regression values shaped like the ``y`` passed to fit."""
        if "members_" in vars(self):
            return ensemble_predict(self, X)
        outputs = self._outputs(X)
        if self.task == "classification":
            return self.classes_[outputs.argmax(1)]
        return outputs[:, 0] if self._y_ndim == 1 else outputs

    @torch.no_grad()
    def transform(self, X: object, layer: int = -1) -> np.ndarray:
        """The learned representation: the output of shared layer ``layer`` (default last;
        of an ensemble, the first member's)."""
        inputs = self._check_predict_inputs(X)
        self.modules_.eval()
        encoder = self.modules_["encoder"]
        n_layers = len(encoder.layers_output(take(inputs, slice(0, 2), self.device_)))
        if not -n_layers <= layer < n_layers:
            raise ValueError(f"layer={layer}; the encoder has {n_layers} shared layers")
        outputs = map_chunks(lambda x: encoder.layers_output(x)[layer], inputs, self.device_)
        return outputs.cpu().numpy()

    @property
    def domain_classifier_(self) -> torch.nn.Module:
        """The fitted domain classifier of a method that trains one (DANN, max-entropy).

        ``AttributeError`` for a model without one, so ``hasattr`` tells which have one.
        """
        modules = vars(self).get("modules_")
        if modules is None or "domain" not in modules:
            raise AttributeError(f"{type(self).__name__} has no fitted domain classifier")
        return modules["domain"]

    @torch.no_grad()
    def predict_domain(self, X: object) -> np.ndarray:
        """1 for each row the domain classifier takes for target data, else 0.

        The classifier's target output is its single logit's positive side, or its last
        output (source against target, or K source domains then the target).
        """
        classifier = self.domain_classifier_
        inputs = self._check_predict_inputs(X)
        self.modules_.eval()
        encoder = self.modules_["encoder"]
        logits = map_chunks(lambda x: classifier(encoder(x)), inputs, self.device_)
        logits = logits.cpu().numpy()
        if logits.shape[1] == 1:
            return (logits[:, 0] > 0).astype(int)
        return (logits.argmax(1) == logits.shape[1] - 1).astype(int)

    def score(self, X: object, y: object) -> float:
        """UAR for classification, mean CCC over target columns for regression
        (:mod:`emoshift.metrics`)."""
        predicted = self.predict(X)
        if self.task == "classification":
            return uar(y, predicted)
        return float(ccc(y, predicted))
