"""Instruction-set dispatch and thread configuration."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import lstmfast
from lstmfast import _core


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


def test_show_config_reports_isa_cpu_threads_and_compiler(capsys):
    lstmfast.show_config()
    out = capsys.readouterr().out
    for key in ("isa", "cpu_supports", "compiled", "threads", "compiler"):
        assert key in out
    cfg = lstmfast.config.kernel_config()
    assert cfg["isa"] in cfg["cpu_supports"] and set(cfg["cpu_supports"]) <= set(cfg["compiled"])
    assert "portable" in cfg["cpu_supports"]  # the fallback runs everywhere


def test_set_isa_refuses_unknown_names():
    with pytest.raises(ValueError, match="unknown instruction set 'sse9'; this build has: "):
        _core.set_isa("sse9")


def test_environment_forces_an_isa_or_refuses_clearly():
    for isa in _core.usable_isas():
        out = run_python("from lstmfast import _core; print(_core.isa())", LSTMFAST_ISA=isa)
        assert out.returncode == 0 and out.stdout.strip() == isa
    bad = run_python("import lstmfast", LSTMFAST_ISA="sse9")
    assert bad.returncode != 0 and "unknown instruction set 'sse9'" in bad.stderr
    missing = [isa for isa in _core.compiled_isas() if isa not in _core.usable_isas()]
    for isa in missing:  # only on CPUs that lack a compiled ISA
        out = run_python("import lstmfast", LSTMFAST_ISA=isa)
        assert out.returncode != 0 and f"instruction set '{isa}' is not supported by this CPU" in out.stderr


def test_environment_sets_threads():
    out = run_python("import lstmfast; print(lstmfast.get_num_threads())", LSTMFAST_NUM_THREADS="3")
    assert out.stdout.strip() == "3"
    if hasattr(os, "sched_getaffinity"):  # default: the cores this process may use
        out = run_python(
            "import lstmfast, os; print(lstmfast.get_num_threads() == len(os.sched_getaffinity(0)))",
            LSTMFAST_NUM_THREADS="",
        )
        assert out.stdout.strip() == "True"


def test_release_memory_empties_the_scratch_cache():
    import numpy as np

    x = np.zeros((200, 64, 64), np.float32)
    w_ih, w_hh = np.zeros((512, 64), np.float32), np.zeros((512, 128), np.float32)
    lstmfast.lstm_backward(
        lstmfast.lstm_forward(x, w_ih, w_hh, None, None, training=True)[3], np.zeros((200, 64, 128), np.float32)
    )  # a 26 MB gate-gradient scratch
    assert _core.cached_memory_bytes() > 0
    freed = lstmfast.release_memory()
    assert freed > 0 and _core.cached_memory_bytes() == 0


def test_scratch_of_a_few_hundred_kib_is_kept_between_calls():
    # BPTT at T=12, B=32, H=64 needs ~400 KiB of scratch (its gate gradients).
    # Left to malloc, such a block could go back to the OS after every call and
    # be faulted in again on the next (93 page faults and 2-3x the time per
    # call, depending on what else the process had allocated); the scratch
    # cache keeps it.
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 32, 1)).astype(np.float32)
    w_ih, w_hh = rng.standard_normal((256, 1)).astype(np.float32), rng.standard_normal((256, 64)).astype(np.float32)
    dy = rng.standard_normal((12, 32, 64)).astype(np.float32)
    tape = lstmfast.lstm_forward(x, w_ih, w_hh, None, None, training=True)[3]
    lstmfast.release_memory()
    lstmfast.lstm_backward(tape, dy)
    assert _core.cached_memory_bytes() >= 12 * 32 * 256 * 4
    if os.environ.get("LD_PRELOAD"):  # a sanitizer's allocator: its own page policy
        return
    resource = pytest.importorskip("resource")  # Unix
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        lstmfast.lstm_backward(tape, dy)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50 < 5


def test_cpu_name_names_the_cpu():
    name = lstmfast.config.cpu_name()
    assert name and name == lstmfast.config.kernel_config()["cpu"]
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), None)
        if model:
            assert name.startswith(model)


def _float64_results() -> list[bytes]:
    """Forward and backward of each cell in float64, at a size whose tiles differ by vector width (H=37)."""
    import numpy as np

    rng = np.random.default_rng(0)
    T, B, I, H = 7, 5, 9, 37
    results = []
    for cell, gates in (("lstm", 4), ("gru", 3), ("rnn", 1)):
        x = rng.standard_normal((T, B, I))
        w_ih, w_hh = 0.3 * rng.standard_normal((gates * H, I)), 0.3 * rng.standard_normal((gates * H, H))
        b = rng.standard_normal(gates * H)
        y, *_, tape = getattr(lstmfast, f"{cell}_forward")(x, w_ih, w_hh, b, b, training=True)
        grads = getattr(lstmfast, f"{cell}_backward")(tape, np.ones((T, B, H)))
        results += [y.tobytes(), *(np.asarray(g).tobytes() for g in grads.values())]
    return results


def test_float64_runs_the_avx2_kernels_where_float32_runs_avx512():
    # The avx512 table takes avx2's float64 entries (src/cpp/CMakeLists.txt):
    # its float64 results are avx2's bits. (float32's differ between the two
    # sets at this size, so equal bits are not a property of the sizes.)
    previous = _core.isa()
    try:
        for isa in _core.usable_isas():
            _core.set_isa(isa)
            assert _core.float64_isa() == ("avx2" if isa == "avx512" else isa)
            assert lstmfast.config.kernel_config()["float64_isa"] == _core.float64_isa()
        if "avx512" not in _core.usable_isas():
            pytest.skip("this CPU has no AVX-512")
        _core.set_isa("avx2")
        avx2 = _float64_results()
        _core.set_isa("avx512")
        assert _float64_results() == avx2
    finally:
        _core.set_isa(previous)
