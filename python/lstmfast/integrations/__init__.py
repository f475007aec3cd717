"""lstmfast inside the tools people already use, each behind an optional extra:

* :mod:`.sklearn` (``lstmfast[sklearn]``): ``LSTMRegressor``, ``LSTMClassifier``
  estimators; also reachable as ``lstmfast.sklearn``.

Nothing here is imported by ``import lstmfast``.
"""
