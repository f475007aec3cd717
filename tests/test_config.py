"""Instruction-set dispatch and thread configuration."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import lstmfast
from lstmfast import _core


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_show_config_reports_isa_cpu_threads_and_compiler(capsys):
    lstmfast.show_config()
    out = capsys.readouterr().out
    for key in ("isa", "cpu_supports", "compiled", "threads", "compiler"):
        assert key in out
    cfg = lstmfast.config.config()
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
        out = run_python("import lstmfast, os; print(lstmfast.get_num_threads() == len(os.sched_getaffinity(0)))",
                         LSTMFAST_NUM_THREADS="")
        assert out.stdout.strip() == "True"
