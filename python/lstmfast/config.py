"""Threads and instruction sets of the compiled kernels."""

from __future__ import annotations

import os
import platform
from typing import Any

from . import _checks, _core

__all__ = ["cpu_name", "get_num_threads", "kernel_config", "release_memory", "set_num_threads", "show_config"]


def set_num_threads(n: int) -> None:
    """Use at most ``n`` threads in the kernels (default: the cores this process
    may use, or ``LSTMFAST_NUM_THREADS``). Results do not depend on ``n``."""
    _core.set_num_threads(_checks.integer("n", n, 1, 1024))


def get_num_threads() -> int:
    """Threads the kernels may use."""
    return _core.get_num_threads()


def release_memory() -> int:
    """Return the kernels' cached scratch memory to the system; the bytes freed.

    Scratch blocks of 1 MiB or more are kept after a call for the next one (up
    to ``LSTMFAST_SCRATCH_CACHE_MB``, default 256; 0 disables the cache),
    because fresh pages are zeroed by the OS on first touch, a cost a training
    loop would otherwise pay on every step.
    """
    cached = _core.cached_memory_bytes()
    _core.release_memory()
    return cached


def cpu_name() -> str:
    """The CPU's model name as the OS reports it, with its family and model numbers
    on Linux (/proc/cpuinfo; the family tells AMD's Zen 4 (25) from Zen 5 (26)),
    else the platform's processor or machine name."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if not key.strip():
                    break  # the first processor is enough
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def kernel_config() -> dict[str, Any]:
    """The build and run-time configuration, as a dict (see :func:`show_config`)."""
    return {
        "cpu": cpu_name(),
        "isa": _core.isa(),
        "vector_bits": 8 * _core.vector_bytes(),
        # float64 runs avx2's kernels where float32 runs avx512's (a smaller build)
        "float64_isa": _core.float64_isa(),
        "cpu_supports": _core.usable_isas(),
        "compiled": _core.compiled_isas(),
        # precision="bfloat16" runs bfloat16 products (AVX512_BF16), else float32
        "bfloat16_products": _core.bfloat16_products(),
        "forced_by_LSTMFAST_ISA": os.environ.get("LSTMFAST_ISA") or None,
        "threads": _core.get_num_threads(),
        "default_threads": _core.default_num_threads(),
        "compiler": _core.compiler(),
        "cached_scratch_bytes": _core.cached_memory_bytes(),
        # time loops this process finished on one thread because another of
        # their threads kept losing its core to other work (busy machine)
        "loops_finished_alone": _core.loops_alone(),
        "machine": platform.machine(),
    }


def show_config() -> None:
    """Print the instruction set in use, what the CPU supports, threads and compiler."""
    for key, value in kernel_config().items():
        if isinstance(value, list):
            value = ", ".join(value)
        print(f"{key:>24}: {value}")
