"""The ``lstmfast`` command (:mod:`.cli`) and the experiments it runs.

Each experiment is a plain function that computes and returns a result object
(with ``table()`` and ``summary()`` giving plain text); only :mod:`.cli` prints,
and only :mod:`.plotting` draws:

* :mod:`.forecast_experiment`: an LSTM forecaster with fixed partitioning vs
  the naive, moving-average and seasonal-naive baselines;
* :mod:`.agreement_experiment`: vanilla RNN vs LSTM on "the cat(s) ... was/were";
* :mod:`.gradient_experiment`: the gradient flow of both, before and after training;
* :mod:`.speed`: the fast path against the NumPy reference, and timings (also used
  by ``benchmarks/bench.py``);
* :mod:`.demo`: the sections of ``lstmfast demo``.
"""
