"""lstmfast.torch's modules are torch.nn.LSTM/GRU/RNN on lstmfast's kernels: same
outputs and gradients (float64: to 1e-12, rounding only), gradcheck, state dicts both
ways, packed sequences, and the same training run step for step."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import lstmfast.torch as lt  # noqa: E402

PAIRS = [(lt.LSTM, torch.nn.LSTM), (lt.GRU, torch.nn.GRU), (lt.RNN, torch.nn.RNN)]
F64 = torch.float64


def twins(ours_cls, theirs_cls, *args, **kwargs):
    torch.manual_seed(0)
    ours = ours_cls(*args, **kwargs)
    theirs = theirs_cls(*args, **kwargs)
    theirs.load_state_dict(ours.state_dict())  # our names are torch's
    return ours, theirs


def grads_of(module, x, hx, outputs):
    loss = sum((o * torch.linspace(-1, 1, o.numel(), dtype=o.dtype).reshape(o.shape)).sum() for o in outputs)
    inputs = [x, *([*hx] if isinstance(hx, tuple) else [hx]), *module.parameters()]
    return torch.autograd.grad(loss, inputs)


@pytest.mark.parametrize("ours_cls,theirs_cls", PAIRS)
@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, False, False), (2, True, False), (2, False, True)])
def test_outputs_and_gradients_equal_torch_nn(ours_cls, theirs_cls, layers, bidirectional, batch_first):
    kwargs = {"num_layers": layers, "bidirectional": bidirectional, "batch_first": batch_first, "dtype": F64}
    ours, theirs = twins(ours_cls, theirs_cls, 3, 5, **kwargs)
    D = 2 if bidirectional else 1
    x = torch.randn((4, 6, 3) if batch_first else (6, 4, 3), dtype=F64, requires_grad=True)
    h = torch.randn(layers * D, 4, 5, dtype=F64, requires_grad=True)
    hx = (h, torch.randn_like(h).requires_grad_()) if ours_cls is lt.LSTM else h
    y, state = ours(x, hx)
    y2, state2 = theirs(x, hx)
    flat = [y, *state] if isinstance(state, tuple) else [y, state]
    flat2 = [y2, *state2] if isinstance(state2, tuple) else [y2, state2]
    for a, b in zip(flat, flat2):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
    for a, b in zip(grads_of(ours, x, hx, flat), grads_of(theirs, x, hx, flat2)):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("ours_cls,theirs_cls", PAIRS)
def test_packed_sequences_in_and_out(ours_cls, theirs_cls):
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    ours, theirs = twins(ours_cls, theirs_cls, 3, 4, num_layers=2, bidirectional=True, dtype=F64)
    x = torch.randn(7, 5, 3, dtype=F64, requires_grad=True)
    lengths = torch.tensor([3, 7, 1, 5, 7])  # unsorted
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, state = ours(packed)
    out2, state2 = theirs(packed)
    assert isinstance(out, torch.nn.utils.rnn.PackedSequence)
    y, ly = pad_packed_sequence(out)
    y2, _ = pad_packed_sequence(out2)
    torch.testing.assert_close(y, y2, rtol=1e-12, atol=1e-13)
    assert torch.equal(ly, lengths)
    for a, b in zip(state if isinstance(state, tuple) else [state], state2 if isinstance(state2, tuple) else [state2]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
    g = torch.autograd.grad(y.sum(), x, retain_graph=True)[0]  # the packing is shared by both graphs
    g2 = torch.autograd.grad(y2.sum(), x)[0]
    torch.testing.assert_close(g, g2, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("cls", [lt.LSTM, lt.GRU, lt.RNN])
def test_gradcheck_float64(cls):
    torch.manual_seed(1)
    m = cls(2, 3, num_layers=2, bidirectional=True, dtype=F64)
    x = torch.randn(4, 2, 2, dtype=F64, requires_grad=True)
    h = torch.randn(4, 2, 3, dtype=F64, requires_grad=True)
    hx = (h, torch.randn_like(h).requires_grad_()) if cls is lt.LSTM else h
    params = list(m.parameters())

    def run(x, *args):
        n = 2 if cls is lt.LSTM else 1
        state = tuple(args[:n]) if n == 2 else args[0]
        with torch.nn.utils.stateless._reparametrize_module(m, dict(zip(dict(m.named_parameters()), args[n:]))):
            y, _ = m(x, state)
        return y

    assert torch.autograd.gradcheck(
        run, (x, *([*hx] if isinstance(hx, tuple) else [hx]), *params), eps=1e-6, atol=1e-7, rtol=1e-5
    )


def test_state_dicts_move_both_ways():
    theirs = torch.nn.LSTM(3, 4, num_layers=2)
    ours = lt.LSTM(3, 4, num_layers=2)
    ours.load_state_dict(theirs.state_dict())
    back = torch.nn.LSTM(3, 4, num_layers=2)
    back.load_state_dict(ours.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(theirs.state_dict().values(), back.state_dict().values()))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


class Net(torch.nn.Module):
    def __init__(self, lstm_cls, dtype):
        super().__init__()
        self.lstm = lstm_cls(4, 16, dtype=dtype)
        self.head = torch.nn.Linear(16, 1, dtype=dtype)

    def forward(self, x):
        return self.head(self.lstm(x)[0][-1])


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_a_training_run_matches_torch_step_for_step(dtype, rtol):
    """20 Adam steps of LSTM + Linear. The two differ by the rounding of different
    summation orders, which Adam's normalisation amplifies for small gradients:
    measured at most 1.2e-13 relative in float64 and 2.6e-5 (1.8e-7 absolute) in
    float32; the tolerances leave a factor of 4 (float32) to 10^4 (float64) of margin
    for other seeds and CPUs."""
    torch.manual_seed(2)
    x = torch.randn(12, 32, 4, dtype=dtype)
    y = x.sum(dim=(0, 2)).unsqueeze(1) / 10
    nets = []
    for cls in (lt.LSTM, torch.nn.LSTM):
        torch.manual_seed(3)
        nets.append(Net(cls, dtype))
    nets[1].load_state_dict(nets[0].state_dict())
    for net in nets:
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(20):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
            opt.step()
    for (name, a), b in zip(nets[0].named_parameters(), nets[1].parameters()):
        torch.testing.assert_close(a, b, rtol=rtol, atol=rtol * 1e-1, msg=name)


def test_inference_keeps_no_tape_and_errors_are_clear():
    m = lt.GRU(3, 4)
    with torch.no_grad():
        y, h = m(torch.randn(5, 2, 3))
    assert y.shape == (5, 2, 4) and h.shape == (1, 2, 4) and not y.requires_grad
    with pytest.raises(ValueError, match="proj_size: LSTMs with projections are not supported"):
        lt.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match=r"input: expected \(T, B, 3\)"):
        m(torch.randn(5, 2, 4))
    with pytest.raises(ValueError, match=r"hx: h0 expected shape \(1, 2, 4\)"):
        m(torch.randn(5, 2, 3), torch.zeros(1, 3, 4))
    with pytest.raises(TypeError, match="dtype: expected torch.float32 or torch.float64"):
        lt.RNN(3, 4, dtype=torch.float16)
    assert "nonlinearity" not in repr(m) and isinstance(np.asarray(y), np.ndarray)


# --- where the kernels run inside a torch model -----------------------------------
# torch's OpenMP threads spin after each of its operations and would hold the cores
# lstmfast's own pool needs (RESULTS.md, T1), so lstmfast.torch runs the kernels on
# torch's threads. The numbers must not change with the threads they run on.

OPENMP = "parallel backend: OpenMP" in torch.__config__.parallel_info()
needs_openmp = pytest.mark.skipif(not OPENMP, reason="torch built without OpenMP")


def _run_in_child(script: str, **env: str) -> str:
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env={**os.environ, **env}
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_openmp
def test_kernels_run_on_torchs_threads_not_lstmfasts_pool():
    # lstmfast's pool threads are named lstmfast-N; inside lstmfast.torch none is
    # started, while the same call through lstmfast's own layers starts one.
    script = """
import glob, numpy as np, torch, lstmfast, lstmfast.torch as lt
torch.set_num_threads(2); lstmfast.set_num_threads(2)
def pool_threads():
    return sum(open(f).read().startswith("lstmfast-") for f in glob.glob("/proc/self/task/*/comm"))
m = lt.LSTM(64, 128)
x = torch.randn(50, 32, 64, requires_grad=True)
m(x)[0].sum().backward()
print(pool_threads())
lstmfast.LSTM(64, 128)(np.zeros((50, 32, 64), np.float32))
print(pool_threads())
"""
    assert _run_in_child(script).split() == ["0", "1"]


@needs_openmp
@pytest.mark.parametrize("cls", [lt.LSTM, lt.GRU, lt.RNN])
def test_torchs_threads_and_lstmfasts_pool_give_identical_numbers(cls, monkeypatch):
    import lstmfast
    import lstmfast.integrations.torch as integration

    torch.manual_seed(0)
    m = cls(16, 48, num_layers=2, bidirectional=True)
    x = torch.randn(40, 8, 16, requires_grad=True)
    before = lstmfast.get_num_threads()
    lstmfast.set_num_threads(2)
    try:
        results = []
        for borrow in (True, False):
            monkeypatch.setattr(integration, "_TORCH_USES_OPENMP", borrow)
            with torch.enable_grad():
                y = m(x)[0]
                results.append([y.detach(), *torch.autograd.grad(y.square().sum(), [x, *m.parameters()])])
    finally:
        lstmfast.set_num_threads(before)
    for a, b in zip(*results):
        assert torch.equal(a, b)  # every output element has one thread and one order: bit-identical


@needs_openmp
def test_a_smaller_openmp_team_than_asked_runs_the_call_alone():
    # OMP_THREAD_LIMIT=1 gives a team of one however many threads are asked for;
    # the caller then runs the whole call itself, with the same numbers.
    script = """
import numpy as np, torch, lstmfast
from lstmfast import _core, cells
torch.zeros(1) + 1  # torch's OpenMP runtime is loaded
rng = np.random.default_rng(0)
T, B, I, H = 30, 16, 8, 64
x = rng.standard_normal((T, B, I))
w = (rng.standard_normal((4 * H, I)) * 0.1, rng.standard_normal((4 * H, H)) * 0.1, None, None)
s = (np.zeros((B, H)), np.zeros((B, H)))
lstmfast.set_num_threads(2)
own = cells.LSTM.forward(x, w, s, training=False)[0]
assert _core.use_openmp_threads(2)
borrowed = cells.LSTM.forward(x, w, s, training=False)[0]
_core.use_openmp_threads(0)
print(np.array_equal(own, borrowed))
"""
    assert _run_in_child(script, OMP_THREAD_LIMIT="1").split() == ["True"]


def test_use_openmp_threads_checks_its_argument():
    from lstmfast import _core

    with pytest.raises(ValueError, match=r"n: expected 0 <= n <= 1024, got -1"):
        _core.use_openmp_threads(-1)
    with pytest.raises(ValueError, match=r"n: expected 0 <= n <= 1024, got 1025"):
        _core.use_openmp_threads(1025)
    assert _core.use_openmp_threads(0) is True  # back to lstmfast's pool: always possible


@needs_openmp
def test_borrowing_torchs_threads_is_for_the_calling_thread_only():
    script = """
import glob, threading, numpy as np, torch, lstmfast
from lstmfast import _core
def pool_threads():
    return sum(open(f).read().startswith("lstmfast-") for f in glob.glob("/proc/self/task/*/comm"))
torch.zeros(1) + 1
lstmfast.set_num_threads(2)
assert _core.use_openmp_threads(2)
layer, x = lstmfast.LSTM(64, 128), np.zeros((50, 32, 64), np.float32)
layer(x)
print(pool_threads())
other = threading.Thread(target=lambda: layer(x))
other.start(); other.join()
print(pool_threads())
"""
    assert _run_in_child(script).split() == ["0", "1"]


@pytest.mark.parametrize("cls", [lt.LSTM, lt.GRU, lt.RNN])
def test_input_without_grad_gives_the_same_parameter_gradients(cls, monkeypatch):
    # x that needs no gradient (data): the first layer's BPTT skips dx's product; every
    # parameter's gradient is the same bits as when x needs one.
    from lstmfast import cells

    asked = []
    backward = cells.Cell.backward

    def recording(self, *args, input_gradient=True, **kwargs):
        asked.append(input_gradient)
        return backward(self, *args, input_gradient=input_gradient, **kwargs)

    monkeypatch.setattr(cells.Cell, "backward", recording)
    torch.manual_seed(1)
    module = cls(3, 5, num_layers=2, dtype=F64)
    data = torch.randn(7, 4, 3, dtype=F64)
    results = []
    for needs in (True, False):
        x = data.clone().requires_grad_(needs)
        module.zero_grad()
        y, _ = module(x)
        (y * torch.linspace(-1, 1, y.numel(), dtype=F64).reshape(y.shape)).sum().backward()
        assert (x.grad is not None) == needs
        results.append([p.grad.clone() for p in module.parameters()])
    assert asked == [True, True, True, False]  # top layer first; the data's layer last
    for a, b in zip(*results):
        assert torch.equal(a, b)
