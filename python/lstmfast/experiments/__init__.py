"""Experiments that make the lecture's claims measurable; the ``lstmfast`` command runs them.

Each is a plain function that computes and returns a result object (with ``table()``
and ``summary()`` methods giving plain text); nothing here prints or draws.

* :mod:`.series` — the built-in series and reading one column of a CSV file;
* :mod:`.forecast` — an LSTM forecaster with fixed partitioning vs the naive,
  moving-average and seasonal-naive baselines;
* :mod:`.agreement` — vanilla RNN vs LSTM on "the cat(s) ... was/were", by distance;
* :mod:`.gradients` — gradient flow of both, at initialisation and after training;
* :mod:`.speed` — the fast path against the NumPy reference: agreement and timings;
* :mod:`.demo` — the five sections of ``lstmfast demo``.
"""

__all__ = ["series", "forecast", "agreement", "gradients", "speed", "demo"]
