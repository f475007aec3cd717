"""The compiled module under attack: what a caller can do to it directly (or from
another thread, or through the environment) gives an exception, never a crash,
a hang or garbage. Anything that could crash runs in a subprocess, so a crash
fails the test instead of killing the test run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import lstmfast
from lstmfast import _core
from lstmfast import reference as ref

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def run_python(code: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Runs ``code`` in a fresh interpreter; returns the finished process."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )


def assert_exits_cleanly(done: subprocess.CompletedProcess) -> None:
    """Exit code 0: no signal (a negative code is a crash), no uncaught error."""
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"


def weights(cell: str, I: int, H: int, dtype=np.float32, seed: int = 0):
    rng = np.random.default_rng(seed)
    G = GATES[cell] * H
    return [rng.uniform(-0.5, 0.5, shape).astype(dtype) for shape in ((G, I), (G, H), (G,), (G,))]


# -- tapes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tape", ["LSTMTape", "GRUTape", "RNNTape"])
def test_tapes_cannot_be_made_from_python(tape):
    """A tape made without forward would hold uninitialised memory that backward
    reads (it crashed before): every way of making one is refused."""
    done = run_python(f"""
        import copy, numpy as np
        from lstmfast import _core
        cls = _core.{tape}
        for make in (lambda: cls(), lambda: cls.__new__(cls), lambda: object.__new__(cls),
                     lambda: type(cls).__call__(cls)):
            try:
                make()
            except TypeError as err:
                print("refused:", err)
            else:
                raise SystemExit("a tape was made")
    """)
    assert_exits_cleanly(done)
    assert done.stdout.count("refused:") == 4


def test_a_tape_whose_lengths_are_changed_is_refused_not_trusted():
    """The tape's lengths are a read-only copy; made writeable again and changed,
    backward checks them again (the kernels index with them)."""
    x = np.zeros((4, 2, 3), np.float32)
    *_, tape = lstmfast.lstm_forward(x, *weights("lstm", 3, 5), training=True, lengths=np.array([4, 2]))
    with pytest.raises(ValueError, match="read-only"):
        tape.lengths[0] = 10**9
    tape.lengths.flags.writeable = True  # it owns its memory, so NumPy allows this
    tape.lengths[0] = 10**9
    with pytest.raises(ValueError, match=r"lengths: every length must be in \[0, T\] = \[0, 4\], got 1000000000"):
        _core.lstm_backward(tape, np.zeros((4, 2, 5), np.float32), None, None)


def test_lengths_changed_by_another_thread_cannot_reach_the_kernels():
    """One thread keeps flipping a lengths array between valid and absurd values
    while another runs forward and backward with it: the kernels work on the copy
    the call checked, so every call either refuses the absurd value or computes
    the result of a valid one (crashed or read out of bounds before)."""
    done = run_python("""
        import threading, numpy as np, lstmfast
        from lstmfast import _core
        rng = np.random.default_rng(0)
        T, B, I, H = 50, 8, 4, 16
        x = rng.standard_normal((T, B, I)).astype(np.float32)
        w = [rng.uniform(-.5, .5, s).astype(np.float32) for s in ((4*H, I), (4*H, H), (4*H,), (4*H,))]
        lengths = np.full(B, T, np.int64)
        expected = _core.lstm_forward(x, *w, None, None, False, lengths)[0]
        stop = False
        def flip():
            while not stop:
                lengths[3] = 10**12
                lengths[3] = T
        thread = threading.Thread(target=flip)
        thread.start()
        refused = computed = 0
        try:
            for _ in range(300):
                try:
                    y, h, c, tape = _core.lstm_forward(x, *w, None, None, True, lengths)
                    assert np.array_equal(y, expected)
                    _core.lstm_backward(tape, np.ones_like(y), None, None)
                    computed += 1
                except ValueError as err:
                    assert "lengths: every length must be in" in str(err)
                    refused += 1
        finally:
            stop = True
            thread.join()
        print("computed", computed, "refused", refused)
    """)
    assert_exits_cleanly(done)
    assert "computed" in done.stdout


# -- arrays -----------------------------------------------------------------------------------


def misaligned(values: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``values`` one byte past an aligned address."""
    raw = bytearray(values.nbytes + 1)
    arr = np.frombuffer(raw, dtype=values.dtype, count=values.size, offset=1).reshape(values.shape)
    arr[...] = values
    assert not arr.flags.aligned and arr.flags.c_contiguous
    return arr


@pytest.mark.parametrize("name", ["x", "w_ih", "w_hh", "b_ih", "b_hh", "h0", "c0"])
def test_misaligned_arrays_are_copied_by_the_package_and_refused_by_the_module(name):
    rng = np.random.default_rng(1)
    args = dict(zip(("w_ih", "w_hh", "b_ih", "b_hh"), weights("lstm", 3, 5)))
    args.update(x=rng.standard_normal((4, 2, 3)).astype(np.float32), h0=np.ones((2, 5), np.float32))
    args["c0"] = -args["h0"]
    expected = lstmfast.lstm_forward(**args)[0]
    bad = {**args, name: misaligned(args[name])}
    np.testing.assert_array_equal(lstmfast.lstm_forward(**bad)[0], expected)
    order = ("x", "w_ih", "w_hh", "b_ih", "b_hh", "h0", "c0")
    with pytest.raises(ValueError, match=f"{name}: expected an aligned array"):
        _core.lstm_forward(*(bad[k] for k in order), False)


@pytest.mark.parametrize("cell", sorted(GATES))
def test_nan_padding_does_not_reach_the_gradients(cell):
    """Past each sequence's end x may hold anything (NaN is a common padding): the
    outputs, the final state and every gradient are those of zero padding."""
    rng = np.random.default_rng(2)
    T, B, I, H = 6, 3, 2, 4
    w = weights(cell, I, H, np.float64)
    x = rng.standard_normal((T, B, I))
    lengths = np.array([6, 2, 4])
    padded = x.copy()
    for b, n in enumerate(lengths):
        padded[n:, b] = np.nan
        x[n:, b] = 0.0
    fwd, bwd = getattr(lstmfast, f"{cell}_forward"), getattr(lstmfast, f"{cell}_backward")
    clean, dirty = fwd(x, *w, training=True, lengths=lengths), fwd(padded, *w, training=True, lengths=lengths)
    for a, b in zip(clean[:-1], dirty[:-1]):
        np.testing.assert_array_equal(a, b)
    dy = rng.standard_normal(clean[0].shape)
    g_clean, g_dirty = bwd(clean[-1], dy), bwd(dirty[-1], dy)
    for key, value in g_clean.items():
        if value is not None:
            assert np.isfinite(g_dirty[key]).all(), key
            np.testing.assert_array_equal(g_dirty[key], value, err_msg=key)


def test_tape_gates_hold_zeros_past_each_end():
    """What a tape shows is numbers the kernels wrote, not leftover memory."""
    x = np.ones((5, 2, 3), np.float32)
    for cell in ("lstm", "gru"):
        out = getattr(lstmfast, f"{cell}_forward")(x, *weights(cell, 3, 4), training=True, lengths=np.array([5, 2]))
        gates = out[-1].gates
        assert np.all(gates[2:, 1] == 0) and np.any(gates[:2, 1] != 0), cell


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("reverse", [False, True])
def test_inputs_are_never_modified_and_outputs_are_fresh(cell, reverse):
    """Forward and backward, with initial states and lengths: every argument (and
    dy, dh_n, dc_n) keeps its bits; no output shares memory with an input."""
    rng = np.random.default_rng(3)
    T, B, I, H = 4, 3, 3, 5
    args = {"x": rng.standard_normal((T, B, I)), **dict(zip(("w_ih", "w_hh", "b_ih", "b_hh"), weights(cell, I, H)))}
    args = {k: np.asarray(v, np.float32) for k, v in args.items()}
    args["h0"] = rng.standard_normal((B, H)).astype(np.float32)
    if cell == "lstm":
        args["c0"] = rng.standard_normal((B, H)).astype(np.float32)
    lengths = np.array([4, 1, 2])
    forward, backward = getattr(lstmfast, f"{cell}_forward"), getattr(lstmfast, f"{cell}_backward")
    out = forward(**args, training=True, lengths=lengths, reverse=reverse)
    *outputs, tape = out
    upstream = {"dy": np.ones_like(outputs[0]), "dh_n": np.full((B, H), 0.5, np.float32)}
    if cell == "lstm":
        upstream["dc_n"] = np.full((B, H), -0.5, np.float32)
    before = {k: v.copy() for k, v in {**args, **upstream, "lengths": lengths}.items()}
    out = forward(**args, training=True, lengths=lengths, reverse=reverse)
    *outputs, tape = out
    grads = backward(tape, **upstream)
    for k, v in {**args, **upstream, "lengths": lengths}.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    for result in [*outputs, *grads.values()]:
        assert result.flags.writeable
        assert not any(np.shares_memory(result, v) for v in [*args.values(), *upstream.values()])


def test_layers_and_training_leave_their_data_alone():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 4, 3)).astype(np.float32)
    y = rng.standard_normal((4, 2)).astype(np.float32)
    x0, y0 = x.copy(), y.copy()
    layer = lstmfast.LSTM(3, 5, num_layers=2, bidirectional=True, seed=0)
    out, state, tape = layer.forward(x, training=True)
    layer.backward(tape, np.ones_like(out))
    model = lstmfast.SequenceModel(3, 5, 2, output="last", task="regression", seed=0)
    model.fit(x, y, epochs=2, batch_size=2, progress=False)
    model.predict(x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


# -- the module's own settings -----------------------------------------------------------------


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("LSTMFAST_NUM_THREADS", "abc", "LSTMFAST_NUM_THREADS: expected an integer in [1, 1024], got 'abc'"),
        ("LSTMFAST_NUM_THREADS", "0", "LSTMFAST_NUM_THREADS: expected an integer in [1, 1024], got '0'"),
        ("LSTMFAST_NUM_THREADS", "99999999999999999999", "expected an integer in [1, 1024]"),
        ("LSTMFAST_NUM_THREADS", "4 cores", "got '4 cores'"),
        ("LSTMFAST_SCRATCH_CACHE_MB", "-1", "LSTMFAST_SCRATCH_CACHE_MB: expected an integer in [0, 1048576]"),
        ("LSTMFAST_SCRATCH_CACHE_MB", "1e3", "LSTMFAST_SCRATCH_CACHE_MB: expected an integer in [0, 1048576]"),
        ("LSTMFAST_SCRATCH_CACHE_MB", "18446744073709551617", "LSTMFAST_SCRATCH_CACHE_MB: expected"),
    ],
)
def test_a_bad_environment_variable_fails_the_import_by_name(variable, value, message):
    done = run_python("import lstmfast", **{variable: value})
    assert done.returncode == 1 and message in done.stderr, done.stderr[-2000:]
    assert "Segmentation" not in done.stderr


def test_good_environment_variables_are_used():
    done = run_python(
        "import lstmfast; print(lstmfast.config.get_num_threads())",
        LSTMFAST_NUM_THREADS="3",
        LSTMFAST_SCRATCH_CACHE_MB="0",
    )
    assert_exits_cleanly(done)
    assert done.stdout.strip() == "3"


@pytest.mark.parametrize("n", [0, -1, 1025, 2**31 - 1])
def test_the_module_refuses_absurd_thread_counts(n):
    with pytest.raises(ValueError, match="n: expected 1 <= n <= 1024"):
        _core.set_num_threads(n)
    with pytest.raises((ValueError, TypeError)):
        _core.set_thread_cap(-5 if n == 0 else n)


# -- Ctrl-C ----------------------------------------------------------------------------------------

# Time allowances below are for the optimised build; CI's sanitizer builds run the
# kernels 5-20x slower and set this factor (a chunk of work between two checks is
# what takes longer there, not the checks' spacing).
SLOWDOWN = float(os.environ.get("LSTMFAST_TEST_SLOWDOWN", "1"))


@pytest.mark.parametrize("training", [False, True])
def test_ctrl_c_stops_a_long_call_within_a_blink(training):
    """A call over a long sequence runs with the GIL released; a KeyboardInterrupt
    (here from another thread, as Ctrl-C would send it) stops it at the next check,
    ~every 50 ms, instead of when it ends. Allowance: 0.5 s after the signal on this
    shared machine (measured ~0.06 s)."""
    rng = np.random.default_rng(4)
    T = 60_000  # steps of B = 1, H = 512: slow steps over little memory (the tape ~0.9 GB)
    x = rng.standard_normal((T, 1, 8)).astype(np.float32)
    layer = lstmfast.LSTM(8, 512, seed=0)
    start = time.perf_counter()
    layer.forward(x[:2_000], training=training)
    estimate = (time.perf_counter() - start) * T / 2_000
    assert estimate > 1.0, "the call must take long enough to be interrupted"
    sent = []

    def interrupt():
        sent.append(time.perf_counter())
        import _thread

        _thread.interrupt_main()

    # Sent a quarter into the call, when its time loop runs: the setup before
    # it (allocating and zeroing a tape of ~0.9 GB, ~0.3 s on a busy machine)
    # is not what this measures.
    timer = threading.Timer(estimate / 4, interrupt)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        layer.forward(x, training=training)
        time.sleep(5)  # only if the call finished first: the interrupt lands here, which fails below
    elapsed = time.perf_counter() - sent[0]
    assert elapsed < 0.5 * SLOWDOWN, f"stopped {elapsed:.3f} s after the interrupt"
    y = layer(x[:10])[0]  # the module still works
    np.testing.assert_array_equal(y, layer(x[:10])[0])


def test_backward_stops_on_ctrl_c_too():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((20_000, 1, 8)).astype(np.float32)
    y, h, c, tape = lstmfast.lstm_forward(x, *weights("lstm", 8, 512), training=True)
    sent = []

    def interrupt():
        sent.append(time.perf_counter())
        import _thread

        _thread.interrupt_main()

    threading.Timer(0.05, interrupt).start()
    with pytest.raises(KeyboardInterrupt):
        lstmfast.lstm_backward(tape, np.ones_like(y))
        time.sleep(5)
    assert time.perf_counter() - sent[0] < 0.5 * SLOWDOWN


def test_calls_from_other_threads_are_not_interrupted_and_agree():
    """Only the main thread gets Python's signals: other threads' calls run to the end."""
    x = np.random.default_rng(6).standard_normal((3000, 2, 4)).astype(np.float32)
    w = weights("rnn", 4, 8)
    expected = lstmfast.rnn_forward(x, *w)[0]
    out = []
    thread = threading.Thread(target=lambda: out.append(lstmfast.rnn_forward(x, *w)[0]))
    thread.start()
    thread.join()
    np.testing.assert_array_equal(out[0], expected)
    np.testing.assert_allclose(
        expected, ref.rnn_forward(x.astype(np.float64), *(a.astype(np.float64) for a in w))[0], rtol=0, atol=2e-5
    )
