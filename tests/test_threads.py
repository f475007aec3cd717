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
        T, B, I, H = [(30, 8, 16, 64), (5, 3, 4, 9), (50, 16, 8, 32)][i % 3]
        gates = (4, 1, 3)[i % 3]
        dtype = np.float32 if i % 4 < 2 else np.float64
        jobs.append(
            (gates, make_case(rng, T, B, I, H, dtype, gates=gates), rng.standard_normal((T, B, H)).astype(dtype))
        )

    def run(job):
        gates, case, dy = job
        if gates == 4:
            y, h, c, tape = lstmfast.lstm_forward(**case, training=True)
            return [y, h, c, *list(lstmfast.lstm_backward(tape, dy).values())]
        fwd, bwd = (
            (lstmfast.rnn_forward, lstmfast.rnn_backward)
            if gates == 1
            else (lstmfast.gru_forward, lstmfast.gru_backward)
        )
        y, h, tape = fwd(**case, training=True)
        return [y, h, *list(bwd(tape, dy).values())]

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


def _child_job(_):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 64, 32)).astype(np.float32)  # big enough to use the thread pool
    w_ih = rng.standard_normal((512, 32)).astype(np.float32) * 0.1
    w_hh = rng.standard_normal((512, 128)).astype(np.float32) * 0.1
    return lstmfast.lstm_forward(x, w_ih, w_hh, None, None)[0].sum()


def test_forked_children_can_use_the_kernels():
    """A forked child has none of the parent's pool threads: it must start its own
    instead of waiting for them (multiprocessing's default on Linux)."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        import pytest

        pytest.skip("no fork on this platform")
    import warnings

    expected = _child_job(0)  # the parent's pool is running now
    with warnings.catch_warnings():  # Python 3.12+ warns about forking a threaded process: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        with multiprocessing.get_context("fork").Pool(2) as pool:
            result = pool.map_async(_child_job, range(2))
            assert result.get(timeout=60) == [expected, expected]


def test_forked_children_can_run_both_directions_side_by_side():
    """The two directions of a bidirectional layer run on a worker thread of the
    package's own; a forked child must not wait for the parent's (it does not
    exist there), neither after os.fork nor in a multiprocessing fork pool."""
    import subprocess
    import sys

    import pytest

    if not hasattr(__import__("os"), "fork"):
        pytest.skip("no fork on this platform")
    script = """
import multiprocessing, os, warnings
import numpy as np
import lstmfast

lstmfast.set_num_threads(2)  # the directions run side by side only with 2 or more threads
layer = lstmfast.LSTM(64, 128, bidirectional=True, seed=0)
x = np.random.default_rng(0).standard_normal((100, 32, 64)).astype(np.float32)
expected = layer(x)[0].sum()  # the parent's worker thread exists now

def job(_):
    return layer(x)[0].sum()

warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: forking a threaded process
pid = os.fork()
if pid == 0:
    os._exit(0 if job(0) == expected else 3)
assert os.waitpid(pid, 0)[1] == 0, "the child's result differs"
with multiprocessing.get_context("fork").Pool(2) as pool:
    assert pool.map_async(job, range(2)).get(timeout=60) == [expected, expected]
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr[-2000:]


def test_busy_cores_make_a_loop_finish_alone_with_the_same_numbers(isa, threads):
    """With every core busy in other processes, a pool thread keeps losing its
    core and the others would wait for it at every step; the time loops then
    finish on one thread (counted in show_config's loops_finished_alone). The
    numbers must be those of a call on one thread, bit for bit, forward and
    backward, whatever step the switch happens at."""
    import os
    import subprocess
    import sys

    from lstmfast import _core

    rng = np.random.default_rng(1)
    T, B, I, H = 300, 16, 8, 64
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    w = [rng.uniform(-0.3, 0.3, s).astype(np.float32) for s in ((4 * H, I), (4 * H, H), (4 * H,), (4 * H,))]
    dy = rng.standard_normal((T, B, H)).astype(np.float32)

    def call():
        y, h, c, tape = lstmfast.lstm_forward(x, *w, training=True)
        return [y, h, c, *lstmfast.lstm_backward(tape, dy).values()]

    threads(1)
    expected = call()
    threads(2)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
    try:
        before = _core.loops_alone()
        for _ in range(40):  # each call meets the busy cores; one switch is enough to check
            for got, want in zip(call(), expected):
                np.testing.assert_array_equal(got, want)
            if _core.loops_alone() > before:
                break
        assert _core.loops_alone() > before, "no loop noticed the busy cores"
    finally:
        for p in spinners:
            p.kill()
            p.wait()
