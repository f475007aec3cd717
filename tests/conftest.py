"""Shared fixtures: the instruction sets to test and random LSTM/RNN problems."""

from __future__ import annotations

import os

import numpy as np
import pytest

from lstmfast import _core


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With LSTMFAST_TEST_ALL=1 (CI sets it), a test skipped because an optional
    library is missing fails instead: CI installs every extra, so such a skip means
    a broken install, not an absent feature."""
    outcome = yield
    _no_missing_library(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """The same for a whole test module skipped at import."""
    outcome = yield
    _no_missing_library(outcome.get_result())


def _no_missing_library(report):
    if report.skipped and os.environ.get("LSTMFAST_TEST_ALL") == "1" and "could not import" in str(report.longrepr):
        report.outcome = "failed"


def _isas_under_test() -> list[str]:
    # CI runs the whole suite once per ISA with LSTMFAST_ISA set; a plain
    # `pytest` covers every ISA this CPU supports in the ISA-parametrised tests.
    forced = os.environ.get("LSTMFAST_ISA")
    return [forced] if forced else _core.usable_isas()


@pytest.fixture(params=_isas_under_test())
def isa(request):
    """Run the test with the kernels of each instruction set in turn."""
    previous = _core.isa()
    _core.set_isa(request.param)
    yield request.param
    _core.set_isa(previous)


@pytest.fixture
def threads():
    """Set the kernel thread count inside a test; restored afterwards."""
    previous = _core.get_num_threads()
    yield _core.set_num_threads
    _core.set_num_threads(previous)


def random_case(
    rng: np.random.Generator, T: int, B: int, I: int, H: int, dtype=np.float64, *, gates: int = 4, bias: bool = True
) -> dict[str, np.ndarray]:
    """Arguments of lstm_forward (gates=4) or rnn_forward (gates=1), PyTorch-like scales."""
    G, k = gates * H, 1.0 / np.sqrt(H)
    case = {
        "x": rng.standard_normal((T, B, I)),
        "w_ih": rng.uniform(-k, k, (G, I)),
        "w_hh": rng.uniform(-k, k, (G, H)),
        "b_ih": rng.uniform(-k, k, G) if bias else None,
        "b_hh": rng.uniform(-k, k, G) if bias else None,
        "h0": 0.5 * rng.standard_normal((B, H)),
    }
    if gates == 4:
        case["c0"] = 0.5 * rng.standard_normal((B, H))
    return {name: None if v is None else v.astype(dtype) for name, v in case.items()}


@pytest.fixture
def make_case():
    return random_case
