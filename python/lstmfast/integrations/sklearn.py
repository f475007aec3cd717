"""scikit-learn estimators: an LSTM (or GRU, RNN) that reads each row of X as a sequence.

``LSTMRegressor`` and ``LSTMClassifier`` (binary and multiclass) are real
estimators: ``get_params``/``set_params``, ``clone``, ``fit`` returns ``self``,
``predict``, ``predict_proba``, ``score``, usable in ``Pipeline`` and
``GridSearchCV(n_jobs=...)`` (they pickle, and run in joblib's worker processes).

A 2-D ``X`` (N, T) is N univariate sequences of T steps; a 3-D ``X`` (N, T, I)
is N sequences of T steps of I features. The model reads each sequence to its
end and predicts from its last hidden state (``SequenceModel(output="last")``).
``y`` is (N,) or, for the regressor, (N, O) for O outputs at once.

Needs ``pip install "lstmfast[sklearn]"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _checks
from ..training import SGD, Adam, AdamW, Optimizer, SequenceModel

__all__ = ["LSTMClassifier", "LSTMRegressor"]

Array = np.ndarray[Any, Any]
_OPTIMIZERS: dict[str, type[Optimizer]] = {"adam": Adam, "adamw": AdamW, "sgd": SGD}


class _SequenceEstimator(BaseEstimator):  # type: ignore[misc]
    """What both estimators share: parameters, reading X as sequences, the model."""

    _task = ""

    def __init__(
        self,
        hidden_size: int = 32,
        num_layers: int = 1,
        cell: str = "lstm",
        epochs: int = 30,
        batch_size: int = 32,
        lr: float = 1e-2,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        forget_bias: float | None = None,
        bidirectional: bool = False,
        dtype: str = "float32",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
    ) -> None:
        # scikit-learn's rule: store the arguments as given; fit checks them.
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cell = cell
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.forget_bias = forget_bias
        self.bidirectional = bidirectional
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # (N, T, I) sequences of vectors
        return tags

    def _sequences(self, X: Any, reset: bool) -> Array:
        """X as (N, T, I) in the model's dtype (validated by scikit-learn's own rules)."""
        X = validate_data(self, X, reset=reset, allow_nd=True, ensure_min_features=1, dtype=[np.float64, np.float32])
        if X.ndim == 2:
            X = X[:, :, None]
        elif X.ndim != 3:
            raise ValueError(f"X: expected a 2-D array (N, T) or a 3-D array (N, T, I), got shape {X.shape}")
        if reset:
            self.n_steps_in_, self.n_channels_in_ = X.shape[1], X.shape[2]
        elif X.shape[2] != self.n_channels_in_:
            raise ValueError(
                f"X has {X.shape[2]} features per step, but {type(self).__name__} was fitted with {self.n_channels_in_}"
            )
        return np.asarray(X)

    def _fit_model(self, X: Array, targets: Array, outputs: int, task: str, loss: str | None = None) -> None:
        optimizer = _OPTIMIZERS.get(self.optimizer) if isinstance(self.optimizer, str) else None
        if optimizer is None:
            raise ValueError(f"optimizer: expected one of {tuple(_OPTIMIZERS)}, got {self.optimizer!r}")
        hidden = self.hidden_size
        layers = _checks.positive_int("num_layers", self.num_layers)
        seed = self.random_state
        if seed is not None and not isinstance(seed, (int, np.integer)):  # a RandomState: draw a seed from it once
            seed = int(check_random_state(seed).randint(2**31))
        self.model_ = SequenceModel(
            X.shape[2],
            [hidden] * layers,
            outputs,
            cell=self.cell,
            output="last",
            task=task,
            loss=loss,
            forget_bias=self.forget_bias,
            bidirectional=self.bidirectional,
            batch_first=True,
            dtype=self.dtype,
            seed=seed,
        )
        kwargs = {"weight_decay": self.weight_decay} if self.weight_decay else {}
        self.history_ = self.model_.fit(
            X,
            targets,
            epochs=self.epochs,
            batch_size=self.batch_size,
            optimizer=optimizer(self.lr, **kwargs),
            clip_norm=self.clip_norm,
            seed=seed,
            progress=bool(self.verbose),
        )

    def _outputs(self, X: Any) -> Array:
        check_is_fitted(self, "model_")
        out: Array = self.model_.predict(self._sequences(X, reset=False))
        return out


class LSTMRegressor(RegressorMixin, _SequenceEstimator):  # type: ignore[misc]
    """Predict real values from sequences: a recurrent network and a linear head,
    trained on the mean squared error (or ``loss="huber"``).

    Parameters
    ----------
    hidden_size, num_layers, cell : the recurrent layers (``cell`` "lstm", "gru" or "rnn")
    epochs, batch_size, lr, optimizer, weight_decay, clip_norm : training
        (``optimizer`` "adam", "adamw" or "sgd")
    forget_bias : float or None
        LSTM only: start the forget gate at this bias (see ``SequenceModel``).
    bidirectional : bool
        Read each sequence both ways; the head reads both directions' final states.
    loss : {"mse", "huber"}
    dtype : "float32" or "float64"
    random_state : int or None
        Seed of the initialisation and the shuffling (same seed, same model).
    verbose : bool
        Show a progress bar while training.
    """

    def __init__(
        self,
        hidden_size: int = 32,
        num_layers: int = 1,
        cell: str = "lstm",
        epochs: int = 30,
        batch_size: int = 32,
        lr: float = 1e-2,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        forget_bias: float | None = None,
        bidirectional: bool = False,
        loss: str = "mse",
        dtype: str = "float32",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__(
            hidden_size,
            num_layers,
            cell,
            epochs,
            batch_size,
            lr,
            optimizer,
            weight_decay,
            clip_norm,
            forget_bias,
            bidirectional,
            dtype,
            random_state,
            verbose,
        )
        self.loss = loss

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y (N, O): O outputs from one head
        return tags

    def fit(self, X: Any, y: Any) -> LSTMRegressor:
        X = self._sequences(X, reset=True)
        y = validate_data(self, y=y, multi_output=True, y_numeric=True, reset=False)
        y = np.asarray(y, dtype=np.float64)
        self._single = y.ndim == 1
        targets = y[:, None] if self._single else y
        self._fit_model(X, targets, targets.shape[1], "regression", self.loss)
        return self

    def predict(self, X: Any) -> Array:
        out = self._outputs(X).astype(np.float64)
        return out[:, 0] if self._single else out


class LSTMClassifier(ClassifierMixin, _SequenceEstimator):  # type: ignore[misc]
    """Classify sequences: a recurrent network and a softmax (or, for two classes, a
    sigmoid) head trained on the cross-entropy. Parameters as :class:`LSTMRegressor`
    (no ``loss``)."""

    def fit(self, X: Any, y: Any) -> LSTMClassifier:
        X = self._sequences(X, reset=True)
        y = validate_data(self, y=y, reset=False)
        check_classification_targets(y)
        self._labels = LabelEncoder().fit(y)
        self.classes_ = self._labels.classes_
        codes = self._labels.transform(y)
        if len(self.classes_) < 2:
            raise ValueError(f"y: needs at least 2 classes to classify, got {len(self.classes_)} class")
        if len(self.classes_) == 2:
            self._fit_model(X, codes.astype(np.float64), 1, "binary")
        else:
            self._fit_model(X, codes, len(self.classes_), "multiclass")
        return self

    def predict_proba(self, X: Any) -> Array:
        check_is_fitted(self, "model_")
        p = self._outputs(X).astype(np.float64)
        return np.hstack([1 - p, p]) if len(self.classes_) == 2 else p

    def predict(self, X: Any) -> Array:
        best = self.predict_proba(X).argmax(axis=1)  # first: it checks that the model is fitted
        labels: Array = self.classes_[best]
        return labels
