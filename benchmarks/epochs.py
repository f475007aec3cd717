"""A training epoch as a user runs it: ``SequenceModel.fit`` against the same loop
written in PyTorch (issue 14), in one run.

    python benchmarks/epochs.py [--threads 1,2] [--repeats 5] [--json FILE]

Two tasks, each with the same data, the same initial weights, the same batches in
the same order (no shuffling) and Adam(1e-3) on both sides:

* forecast: windows of a series, T=30, I=1, H=64, batch 32, the last step's
  hidden state through a linear head, mean squared error (4096 windows: 128 steps);
* classify: T=100, I=8, H=128, batch 64, a prediction at every step, binary
  cross-entropy summed over time and averaged over the sequences (1024
  sequences: 16 steps).

Before timing, one step of each is checked: the two losses and every gradient
agree to 1e-4 relative (float32). Each repeat times one epoch of each side,
alternating, each after a pause of ``IDLE_PAUSE`` (the other side's worker
threads go idle, as in bench.py); the table gives medians and the ratio
torch / lstmfast (> 1: lstmfast is faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

import lstmfast
from lstmfast.app.speed import IDLE_PAUSE
from lstmfast.datasets import timeseries
from lstmfast.training import Adam, SequenceModel

TASKS = {
    "forecast": {"T": 30, "I": 1, "H": 64, "batch": 32, "N": 4096, "task": "regression", "output": "last"},
    "classify": {"T": 100, "I": 8, "H": 128, "batch": 64, "N": 1024, "task": "binary", "output": "per_step"},
}


def data(name: str) -> tuple[np.ndarray, np.ndarray]:
    c = TASKS[name]
    if name == "forecast":
        series = timeseries.synthetic_series(n=c["N"] + c["T"], seed=0)[1]
        z = ((series - series.mean()) / series.std()).astype(np.float32)
        X, y = timeseries.make_windows(z, c["T"])
        return X[:, : c["N"]].astype(np.float32), y[: c["N"]].astype(np.float32)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((c["T"], c["N"], c["I"])).astype(np.float32)
    y = (np.cumsum(X[..., :1], axis=0) > 0).astype(np.float32)  # is the running sum of feature 0 positive?
    return X, y


class TorchNet(torch.nn.Module):
    def __init__(self, model: SequenceModel):
        super().__init__()
        c = model.config
        self.output = c["output"]
        self.lstm = torch.nn.LSTM(c["input_size"], c["hidden_size"][0])
        self.head = torch.nn.Linear(c["hidden_size"][0], c["output_size"])
        params = model.parameters()
        with torch.no_grad():  # the same initial weights
            for name, p in self.lstm.named_parameters():
                p.copy_(torch.from_numpy(params[f"lstm.{name}"]))
            self.head.weight.copy_(torch.from_numpy(params["head.weight"]))
            self.head.bias.copy_(torch.from_numpy(params["head.bias"]))

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        if self.output == "last":
            return torch.nn.functional.mse_loss(self.head(out[-1]), y)
        logits = self.head(out)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="sum") / x.shape[1]


def torch_epoch(net: TorchNet, optimizer: torch.optim.Optimizer, X: torch.Tensor, y: torch.Tensor, batch: int) -> None:
    per_step = net.output == "per_step"
    for start in range(0, X.shape[1], batch):
        xb = X[:, start : start + batch]
        yb = y[:, start : start + batch] if per_step else y[start : start + batch]
        optimizer.zero_grad()
        net.loss(xb, yb).backward()
        optimizer.step()


def check_one_step(model: SequenceModel, net: TorchNet, X: np.ndarray, y: np.ndarray, batch: int) -> float:
    """The largest relative difference of the loss and the gradients on the first batch."""
    per_step = model.output == "per_step"
    xb, yb = X[:, :batch], (y[:, :batch] if per_step else y[:batch])
    loss, grads = model.loss_and_gradients(xb, yb)
    net.zero_grad()
    theirs = net.loss(torch.from_numpy(xb), torch.from_numpy(np.ascontiguousarray(yb)))
    theirs.backward()
    worst = abs(loss - theirs.item()) / abs(theirs.item())
    named = {f"lstm.{n}": p.grad for n, p in net.lstm.named_parameters()}
    named.update({"head.weight": net.head.weight.grad, "head.bias": net.head.bias.grad})
    for name, g in named.items():
        g = g.numpy()
        worst = max(worst, float(np.abs(grads[name] - g).max() / (np.abs(g).max() + 1e-30)))
    return worst


def run(name: str, threads: int, repeats: int) -> dict:
    c = TASKS[name]
    X, y = data(name)
    lstmfast.set_num_threads(threads)
    torch.set_num_threads(threads)
    model = SequenceModel(c["I"], c["H"], task=c["task"], output=c["output"], seed=0)
    net = TorchNet(model)
    err = check_one_step(model, net, X, y, c["batch"])
    if not err < 1e-4:
        raise SystemExit(f"{name}: lstmfast and torch disagree on one step ({err:.2e})")
    ours_opt, theirs_opt = Adam(1e-3), torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(np.ascontiguousarray(y))
    ours, theirs = [], []
    for _ in range(repeats + 1):  # the first of each warms up
        # Each side starts once the other's worker threads have gone idle, as in bench.py: on two
        # threads torch's OpenMP worker, still spinning, took ~10 ms of CPU from the epoch after it.
        time.sleep(IDLE_PAUSE)
        start = time.perf_counter()
        model.fit(X, y, epochs=1, batch_size=c["batch"], optimizer=ours_opt, shuffle=False, progress=False)
        ours.append(time.perf_counter() - start)
        time.sleep(IDLE_PAUSE)
        start = time.perf_counter()
        torch_epoch(net, theirs_opt, Xt, yt, c["batch"])
        theirs.append(time.perf_counter() - start)
    row = {
        "task": name,
        "threads": threads,
        "lstmfast_s": statistics.median(ours[1:]),
        "torch_s": statistics.median(theirs[1:]),
        "first_step_rel_diff": err,
    }
    row["ratio"] = row["torch_s"] / row["lstmfast_s"]
    print(
        f"| {name} | {threads} | {1e3 * row['lstmfast_s']:.1f} | {1e3 * row['torch_s']:.1f} | {row['ratio']:.2f}x |",
        flush=True,
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    print(f"{lstmfast.config.cpu_name()}; torch {torch.__version__}; lstmfast {lstmfast.config.kernel_config()['isa']}")
    print("| task | threads | lstmfast ms/epoch | torch ms/epoch | torch / lstmfast |\n|---|---|---|---|---|")
    rows = [run(name, int(n), args.repeats) for name in TASKS for n in args.threads.split(",")]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
