"""Scaling out on this machine, and on paper (issue 13).

    python benchmarks/scaling.py mpi    # 1 process vs 2 MPI ranks on a compute-bound fit
    python benchmarks/scaling.py dask   # serial vs 1 and 2 Dask workers on many forecasts
    python benchmarks/scaling.py cost   # a data-parallel step on 2-64 machines, modelled

``mpi`` trains a SequenceModel of the S3 shape (T=100, I=256, H=256, global batch
64) for a few epochs: in one process (the kernels on every core), and on 2 ranks
(``mpiexec -n 2``, each rank on its share of the cores, ``sharded=False``), and
reports the median time per epoch and, per step, the time a rank spent in the
Allreduce (including waiting for the other rank). ``dask`` forecasts 8 series
(one model each) with ``lstmfast.dask.fan_out``. ``cost`` measures one training
step of S3 and S4 here and puts it beside the time of a ring all-reduce of their
gradients at 10 and 100 Gbit/s. Every mode prints a Markdown table and, with
``--json FILE``, writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import lstmfast
from lstmfast.training import Adam, Callback, SequenceModel

MPI_CASE = {"T": 100, "N": 512, "I": 256, "H": 256, "batch_size": 64, "epochs": 4}


class EpochTimer(Callback):
    def on_epoch_begin(self, epoch, logs):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs):
        self.seconds = [*getattr(self, "seconds", []), time.perf_counter() - self.start]


def mpi_rank(out: str) -> None:
    """One rank's (or the single process's) run: writes its epoch times and Allreduce times."""
    c = MPI_CASE
    comm = None
    if os.environ.get("SCALING_MPI") == "1":
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    rng = np.random.default_rng(0)
    X = rng.standard_normal((c["T"], c["N"], c["I"])).astype(np.float32)
    y = rng.standard_normal((c["N"], 1)).astype(np.float32)
    model = SequenceModel(c["I"], c["H"], task="regression", output="last", seed=0)
    timer = EpochTimer()
    history = model.fit(
        X,
        y,
        epochs=c["epochs"],
        batch_size=c["batch_size"],
        optimizer=Adam(1e-3),
        seed=0,
        progress=False,
        callbacks=[timer],
        comm=comm,
    )
    steps = -(-c["N"] // c["batch_size"])
    rank = 0 if comm is None else comm.Get_rank()
    record = {
        "epoch_seconds": timer.seconds[1:],  # the first epoch warms up
        "allreduce_ms_per_step": [1e3 * s / steps for s in history.get("allreduce_seconds", [])[1:]],
        "threads": lstmfast.config.get_num_threads(),
    }
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(record, f)


def run_mpi(repeats: int) -> dict:
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    results: dict[str, dict] = {}
    for label, ranks in (("1 process", 0), ("2 ranks", 2)):
        epochs, allreduce = [], []
        for _ in range(repeats):
            out = tempfile.mkdtemp()
            command = [sys.executable, __file__, "_rank", out]
            env = dict(os.environ)
            if ranks:
                command = [mpiexec, "-n", str(ranks), *command]
                env["SCALING_MPI"] = "1"
            subprocess.run(command, check=True, env=env)
            with open(os.path.join(out, "rank0.json")) as f:
                record = json.load(f)
            epochs.append(statistics.median(record["epoch_seconds"]))
            if record["allreduce_ms_per_step"]:
                allreduce.append(statistics.median(record["allreduce_ms_per_step"]))
        results[label] = {
            "epoch_s": statistics.median(epochs),
            "allreduce_ms_per_step": statistics.median(allreduce) if allreduce else None,
        }
    base = results["1 process"]["epoch_s"]
    print(f"MPI, S3-shaped fit (T=100, N={MPI_CASE['N']}, I=256, H=256, batch 64, float32); median of {repeats} runs")
    print("| run | s per epoch | speed-up | Allreduce ms per step (rank 0) |\n|---|---|---|---|")
    for label, r in results.items():
        ar = "–" if r["allreduce_ms_per_step"] is None else f"{r['allreduce_ms_per_step']:.2f}"
        print(f"| {label} | {r['epoch_s']:.3f} | {base / r['epoch_s']:.2f}x | {ar} |")
    return results


def dask_job_tasks(n: int = 8) -> dict:
    from lstmfast.datasets import timeseries as ts

    return {
        f"series {k}": {"series": ts.synthetic_series(n=1000, period=50, seed=k)[1], "epochs": 40, "window": 12}
        for k in range(n)
    }


def run_dask(repeats: int) -> dict:
    from lstmfast.app.forecast_experiment import forecast
    from lstmfast.integrations import dask as ldask

    tasks = dask_job_tasks()
    results: dict[str, float] = {}
    for label, scheduler, workers in (
        ("serial, 1 process", None, 0),
        ("1 worker", "local", 1),
        ("2 workers", "local", 2),
    ):
        times = []
        for _ in range(repeats):
            if scheduler is None:
                start = time.perf_counter()
                ldask.fan_out(forecast, tasks, scheduler=None)
                times.append(time.perf_counter() - start)
                continue
            with ldask.cluster(scheduler, workers) as client:  # the cluster's start is not timed
                start = time.perf_counter()
                ldask.fan_out(forecast, tasks, scheduler=client)
                times.append(time.perf_counter() - start)
        results[label] = statistics.median(times)
    base = results["serial, 1 process"]
    print(f"Dask, {len(tasks)} forecasts (one LSTM each, 40 epochs); median of {repeats} runs")
    print("| run | seconds | speed-up |\n|---|---|---|")
    for label, seconds in results.items():
        print(f"| {label} | {seconds:.2f} | {base / seconds:.2f}x |")
    return results


# -- the cost model --------------------------------------------------------------------------
# Ring all-reduce of n bytes on p machines: 2(p-1) messages of n/p bytes each way
# (Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for clusters of
# workstations", JPDC 2009; Thakur, Rabenseifner & Gropp, "Optimization of collective
# communication operations in MPICH", IJHPCA 2005):
#     t = 2 (p-1) alpha + 2 (p-1)/p * n / beta
# alpha: per-message latency, beta: link bandwidth in bytes/s.
LINKS = {"10 Gbit/s": (10e9 / 8, 30e-6), "100 Gbit/s": (100e9 / 8, 5e-6)}  # (beta, alpha): TCP vs RDMA-class
MACHINES = (2, 4, 8, 16, 32, 64)
COST_SHAPES = {"S3": (100, 64, 256, 256), "S4": (50, 128, 512, 1024)}  # T, B, I, H


def step_seconds(T: int, B: int, I: int, H: int, repeats: int) -> float:
    """One training step (forward, BPTT, head, Adam) of a SequenceModel at this shape, here."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((T, B, I)).astype(np.float32)
    y = rng.standard_normal((B, 1)).astype(np.float32)
    model = SequenceModel(I, H, task="regression", output="last", seed=0)
    optimizer = Adam(1e-3)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        _, grads = model.loss_and_gradients(X, y)
        optimizer.step(model.parameters(), grads)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def allreduce_seconds(nbytes: float, p: int, beta: float, alpha: float) -> float:
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / beta


def run_cost(repeats: int) -> dict:
    out: dict = {}
    print("Cost model: one data-parallel step = compute (measured here, one machine of 2 cores) + a ring")
    print("all-reduce of the float32 gradient (modelled, no overlap: fit reduces after the backward pass).")
    print("Weak scaling: every machine keeps the shape's batch B; efficiency = t(B) / (t(B) + all-reduce).")
    print("Strong scaling: the global batch B split over p machines; speed-up = t(B) / (t(B/p) + all-reduce),")
    print("with t(B/p) measured here too (small batches use the cores less well).")
    for name, (T, B, I, H) in COST_SHAPES.items():
        params = 4 * H * (I + H) + 8 * H + H + 1
        nbytes = 4 * params
        t = {b: step_seconds(T, b, I, H, repeats) for b in sorted({max(1, B // p) for p in (1, *MACHINES)})}
        out[name] = {"step_s_by_batch": t, "gradient_bytes": nbytes, "rows": []}
        print(f"\n{name} (T={T} B={B} I={I} H={H}): step {1e3 * t[B]:.1f} ms here, gradient {nbytes / 1e6:.1f} MB")
        print(
            "| machines | link | all-reduce ms | weak scaling: efficiency | strong scaling: batch per machine, "
            "step ms, speed-up |"
        )
        print("|---|---|---|---|---|")
        for link, (beta, alpha) in LINKS.items():
            for p in MACHINES:
                a = allreduce_seconds(nbytes, p, beta, alpha)
                b = max(1, B // p)
                row = {
                    "machines": p,
                    "link": link,
                    "allreduce_s": a,
                    "weak_efficiency": t[B] / (t[B] + a),
                    "batch_per_machine": b,
                    "strong_speedup": t[B] / (t[b] + a),
                }
                out[name]["rows"].append(row)
                print(
                    f"| {p} | {link} | {1e3 * a:.2f} | {100 * row['weak_efficiency']:.0f}% | {b}, "
                    f"{1e3 * t[b]:.1f}, {row['strong_speedup']:.1f}x |"
                )
    return out


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "_rank":
        mpi_rank(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("mpi", "dask", "cost"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    print(
        f"CPU: {lstmfast.config.cpu_name()}, {os.cpu_count()} cores; "
        f"lstmfast {lstmfast.__version__}, ISA {lstmfast.config.kernel_config()['isa']}"
    )
    result = {"mpi": run_mpi, "dask": run_dask, "cost": run_cost}[args.mode](args.repeats)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
