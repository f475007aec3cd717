"""Combine several `bench.py --json` runs into the table of benchmarks/RESULTS.md.

    python benchmarks/summarize.py run1.json run2.json run3.json > table.md
    python benchmarks/summarize.py --shapes S1,S2 run*.json       # only these rows

Each cell (shape x mode x threads x engine) is the median over the runs of
each run's median time; ratios are computed from those medians. The matmul
peak is the median over runs of the best float32 GFLOP/s of NumPy and PyTorch
(libraries), and separately of lstmfast's own GEMM.
"""

from __future__ import annotations

import json
import math
import statistics
import sys

ENGINES = ("lstmfast", "numpy", "torch", "onnxruntime")


def load(paths):
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append(json.load(f))
    return runs


def combine(runs, shapes=None):
    cells = {}
    for run in runs:
        for row in run["rows"]:
            if shapes and row["shape"] not in shapes:
                continue
            key = (row["shape"], row["mode"], row["threads"])
            cell = cells.setdefault(key, {"row": row, "ms": {}, "err": {}})
            for engine, ms in row["ms"].items():
                cell["ms"].setdefault(engine, []).append(ms)
            for engine, err in row["max_rel_err"].items():
                cell["err"][engine] = max(cell["err"].get(engine, 0.0), err)
    peaks = {}
    for threads in {k[2] for k in cells}:
        lib = [max(run["matmul_peak_gflops"][str(threads)].get(name, 0) for name in ("numpy", "torch")) for run in runs]
        own = [run["matmul_peak_gflops"][str(threads)].get("lstmfast", 0) for run in runs]
        peaks[threads] = (statistics.median(lib), statistics.median(own))
    return cells, peaks


def table(cells, peaks, nruns):
    lines = [
        f"Medians over {nruns} runs. Ratio = other engine's time / lstmfast's time (> 1: lstmfast faster). "
        "GFLOP/s: matrix FLOPs (forward 2*T*B*4H*(I+H), training 3x). "
        "Peak: best float32 matmul of NumPy/PyTorch in the same runs; own GEMM: lstmfast's.",
        "",
        "| shape | mode | threads | lstmfast ms | GFLOP/s | % lib peak | % own GEMM | NumPy ms (x) "
        "| torch ms (x) | ONNX RT ms (x) | vs best of torch/ORT |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratios_best, ratios_torch = [], []
    for key in sorted(cells, key=lambda k: (k[0], k[1] != "inference", k[2])):
        shape, mode, threads = key
        cell = cells[key]
        ms = {e: statistics.median(v) for e, v in cell["ms"].items()}
        fast = ms["lstmfast"]
        gflops = cell["row"]["gflop"] / (fast / 1e3)
        lib_peak, own_peak = peaks[threads]

        def other(engine, ms=ms, fast=fast):
            if engine not in ms:
                return "–"
            return f"{ms[engine]:.3f} ({ms[engine] / fast:.2f}x)"

        rivals = [ms[e] for e in ("torch", "onnxruntime") if e in ms]
        best = min(rivals) / fast if rivals else float("nan")
        if rivals:
            ratios_best.append(best)
        if "torch" in ms:
            ratios_torch.append(ms["torch"] / fast)
        lines.append(
            f"| {shape} | {mode} | {threads} | {fast:.3f} | {gflops:.0f} | {100 * gflops / lib_peak:.0f}% "
            f"| {100 * gflops / own_peak:.0f}% | {other('numpy')} | {other('torch')} "
            f"| {other('onnxruntime')} | {best:.2f} |"
        )
    geo = math.exp(sum(math.log(r) for r in ratios_torch) / len(ratios_torch)) if ratios_torch else float("nan")
    lines += [
        "",
        f"Geometric mean over these {len(ratios_torch)} cells of the ratio to torch: {geo:.2f}",
        f"Lowest ratio to the best of torch/ONNX Runtime: {min(ratios_best):.2f}",
        "",
        "Matmul peaks (GFLOP/s, float32): "
        + ", ".join(
            f"{t} thread(s): libraries {lib:.0f}, lstmfast GEMM {own:.0f}" for t, (lib, own) in sorted(peaks.items())
        ),
    ]
    return "\n".join(lines)


def main(argv):
    shapes = None
    if argv and argv[0] == "--shapes":
        shapes, argv = set(argv[1].split(",")), argv[2:]
    if not argv:
        print(__doc__)
        return 2
    runs = load(argv)
    cells, peaks = combine(runs, shapes)
    print(table(cells, peaks, len(runs)))
    print()
    print("Machine:", json.dumps(runs[0]["machine"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
