"""Train a forecaster on a series ten times larger than the memory it may use.

The series lives in a .npy file on disk, memory-mapped read-only; a batch
source cuts windows out of it on the fly, so only the pages of those windows are
ever read. The process limits its own data memory (RLIMIT_DATA, which bounds
heap and private mappings but not a read-only file mapping) to --budget MiB,
and the series is --factor times that: reading it whole fails (shown below),
training on it does not.

    python examples/train_on_memmap.py                   # 128 MiB budget, 1.25 GiB series
    python examples/train_on_memmap.py --budget 0 --values 2000000   # quick, no limit
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time

import numpy as np


def write_series(path: str, values: int) -> None:
    """A noisy two-period sine wave, written in chunks (never whole in memory)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(values,))
    rng = np.random.default_rng(0)
    chunk = 1 << 22
    for start in range(0, values, chunk):
        t = np.arange(start, min(start + chunk, values), dtype=np.float64)
        out[start : start + len(t)] = np.sin(t / 7) + 0.5 * np.sin(t / 23) + 0.1 * rng.standard_normal(len(t))
    out.flush()
    del out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=int, default=128, help="MiB of data memory the process may use (0: no limit)")
    ap.add_argument("--factor", type=int, default=10, help="the series is this many times the budget")
    ap.add_argument("--values", type=int, default=None, help="the series' length (default: budget x factor)")
    ap.add_argument("--path", default=os.path.join(tempfile.gettempdir(), "lstmfast-memmap-series.npy"))
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    values = args.values or (args.budget << 20) * args.factor // 4  # float32
    if not (os.path.exists(args.path) and np.load(args.path, mmap_mode="r").shape == (values,)):
        start = time.perf_counter()
        writer = multiprocessing.get_context("spawn").Process(target=write_series, args=(args.path, values))
        writer.start()  # in a process of its own, so that this one's memory figures are training's alone
        writer.join()
        print(f"wrote {values:,} values ({values * 4 >> 20} MiB) to {args.path} in {time.perf_counter() - start:.1f} s")

    if args.budget:
        limit = args.budget << 20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    from lstmfast.training import Adam, SequenceModel  # imported under the limit too

    series = np.load(args.path, mmap_mode="r")
    print(f"series: {series.nbytes >> 20} MiB on disk, memory budget: {args.budget or 'none'} MiB")
    if args.budget:
        try:
            np.array(series)
            raise SystemExit("the series fits in the budget after all: raise --factor")
        except MemoryError:
            print("reading the series whole: MemoryError, as it should be")

    window, batch, batches = 48, 64, 100
    held_out = len(series) - 50_000  # windows after this point are only for testing
    rng = np.random.default_rng(1)

    def windows(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.stack([series[s : s + window] for s in starts], axis=1)[:, :, None]  # (T, B, 1)
        y = np.array([series[s + window] for s in starts])
        return x, y

    def epoch() -> list[tuple[np.ndarray, np.ndarray]]:
        """This epoch's batches: windows from all over the training part of the file."""
        return [windows(rng.integers(0, held_out - window - 1, batch)) for _ in range(batches)]

    model = SequenceModel(1, 32, output="last", task="regression", seed=0)
    start = time.perf_counter()
    history = model.fit(epoch, epochs=args.epochs, optimizer=Adam(1e-2), progress=False)
    x_test, y_test = windows(np.arange(held_out, len(series) - window - 1, 97))
    error = float(np.abs(model.predict(x_test)[:, 0] - y_test).mean())
    naive = float(np.abs(x_test[-1, :, 0] - y_test).mean())
    print(
        f"trained {args.epochs} epochs of {batches} batches in {time.perf_counter() - start:.1f} s; "
        f"loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f}"
    )
    print(f"held-out MAE {error:.3f} (naive forecast {naive:.3f}); {memory()}")


def memory() -> str:
    """This process's private memory, and the pages of the file it has read (page
    cache the system may drop at any time, which is why they do not count)."""
    try:
        with open("/proc/self/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        return (
            f"private memory {int(status['RssAnon'].split()[0]) >> 10} MiB, "
            f"file pages mapped {int(status['RssFile'].split()[0]) >> 10} MiB"
        )
    except (OSError, KeyError):
        return f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10} MiB"


if __name__ == "__main__":
    main()
