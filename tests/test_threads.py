"""Several Python threads calling the kernels at once (the GIL is released
while they run) get exactly the results of one call at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import lstmfast


def test_concurrent_calls_match_serial_calls(isa, make_case):
    rng = np.random.default_rng(0)
    jobs = []
    for i in range(12):
        T, B, I, H = [(30, 8, 16, 64), (5, 3, 4, 9), (50, 16, 8, 32)][i % 3]  # noqa: E741
        gates = (4, 1, 3)[i % 3]
        dtype = np.float32 if i % 4 < 2 else np.float64
        jobs.append((gates, make_case(rng, T, B, I, H, dtype, gates=gates),
                     rng.standard_normal((T, B, H)).astype(dtype)))

    def run(job):
        gates, case, dy = job
        if gates == 4:
            y, h, c, tape = lstmfast.lstm_forward(**case, training=True)
            return [y, h, c] + list(lstmfast.lstm_backward(tape, dy).values())
        fwd, bwd = (lstmfast.rnn_forward, lstmfast.rnn_backward) if gates == 1 else (lstmfast.gru_forward,
                                                                                     lstmfast.gru_backward)
        y, h, tape = fwd(**case, training=True)
        return [y, h] + list(bwd(tape, dy).values())

    serial = [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            concurrent = list(pool.map(run, jobs))
            for got, want in zip(concurrent, serial):
                for a, b in zip(got, want):
                    np.testing.assert_array_equal(a, b)


def test_set_num_threads_validates():
    import pytest
    previous = lstmfast.get_num_threads()
    try:
        lstmfast.set_num_threads(1)
        assert lstmfast.get_num_threads() == 1
        with pytest.raises(ValueError, match="n: expected 1 <= n <= 1024, got 0"):
            lstmfast.set_num_threads(0)
        with pytest.raises(TypeError, match="n: expected an int, got float"):
            lstmfast.set_num_threads(2.0)
    finally:
        lstmfast.set_num_threads(previous)
