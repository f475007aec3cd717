"""One rank of a data-parallel fit, run by tests/test_mpi.py as
``mpiexec -n 2 python tests/mpi_worker.py SCENARIO OUT_DIR``.

Each rank writes ``OUT_DIR/rank<r>.npz``: its final parameters (``param.*``), its
history as JSON (``history``) and the error it raised, if any (``error``:
"TypeName: message"), so the test can compare ranks with each other and with a
single-process fit.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
from mpi4py import MPI

import lstmfast
from lstmfast.training import Adam, Callback, ModelCheckpoint, SequenceModel

T, N, I, H = 12, 40, 2, 8


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The running-parity-of-ones task, small: (T, N, I) float64 inputs, (T, N, 1) targets."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, (T, N, I)).astype(np.float64)
    y = (np.cumsum(X[..., :1], axis=0) % 2).astype(np.float64)
    return X, y


def model(seed: int = 0) -> SequenceModel:
    return SequenceModel(input_size=I, hidden_size=H, cell="lstm", dtype=np.float64, seed=seed)


def fit_kwargs() -> dict:
    return {"epochs": 3, "batch_size": 8, "optimizer": Adam(1e-2), "seed": 5, "progress": False}


class Perturb(Callback):
    """Changes one parameter on the rank it runs on: the ranks no longer agree."""

    def on_epoch_end(self, epoch, logs):
        next(iter(self.model.parameters().values()))[0] += 1e-3


class Threads(Callback):
    """Records the kernels' thread count during the steps."""

    def on_batch_end(self, batch, logs):
        self.during = lstmfast.config.get_num_threads()


class FailAt(Callback):
    """Raises at the end of one epoch (a callback that fails on one rank)."""

    def on_epoch_end(self, epoch, logs):
        if epoch == 1:
            raise OSError("disk full (a test's callback)")


def main(scenario: str, out: str) -> None:
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    X, y = data()
    m = model(seed=rank)  # different on each rank: fit starts every rank from rank 0's
    history, error = None, None
    try:
        if scenario == "split":
            history = m.fit(X, y, comm=comm, validation_split=0.25, **fit_kwargs())
        elif scenario == "split_lengths":
            lengths = np.random.default_rng(1).integers(1, T + 1, N)
            history = m.fit(X, y, lengths=lengths, comm=comm, **fit_kwargs())
        elif scenario == "sharded":
            shard = slice(0, 24) if rank == 0 else slice(24, N)  # 24 and 16 sequences: unequal on purpose
            Xv, yv = data(seed=9)
            history = m.fit(
                X[:, shard],
                y[:, shard],
                comm=comm,
                sharded=True,
                shuffle=False,
                validation_data=(Xv[:, rank::2], yv[:, rank::2]),
                **fit_kwargs(),
            )
        elif scenario == "checkpoint":
            path = os.path.join(out, "ckpt.npz")
            history = m.fit(X, y, comm=comm, callbacks=[ModelCheckpoint(path)], **{**fit_kwargs(), "epochs": 2})
            comm.Barrier()
            m2 = model(seed=7 + rank)
            history = m2.fit(X, y, comm=comm, resume=path if rank == 0 else None, **fit_kwargs())
            m = m2
        elif scenario == "different_batch_size":
            history = m.fit(X, y, comm=comm, **{**fit_kwargs(), "batch_size": 8 + 8 * rank})
        elif scenario == "different_data":
            history = m.fit(X + rank, y, comm=comm, **fit_kwargs())
        elif scenario == "bad_argument_on_one_rank":
            history = m.fit(X, y, comm=comm, **{**fit_kwargs(), "epochs": 0 if rank == 1 else 3})
        elif scenario == "bad_batch_on_one_rank":

            def batches():
                for k in range(0, N, 8):
                    if rank == 1 and k == 16:
                        yield X[:, k : k + 8, :1], y[:, k : k + 8]  # one input feature short
                    yield X[:, k : k + 8], y[:, k : k + 8]

            history = m.fit(batches, comm=comm, sharded=True, **fit_kwargs())
        elif scenario == "callback_fails_on_one_rank":
            history = m.fit(X, y, comm=comm, callbacks=[FailAt()] if rank == 1 else None, **fit_kwargs())
        elif scenario == "rank_never_calls_fit":
            if rank == 1:
                time.sleep(4)  # busy elsewhere, then leaves
            else:
                history = m.fit(X, y, comm=comm, comm_timeout=1.0, **fit_kwargs())
        elif scenario == "diverge":
            history = m.fit(X, y, comm=comm, callbacks=[Perturb()] if rank == 1 else None, **fit_kwargs())
        elif scenario == "threads":
            before, probe = lstmfast.config.get_num_threads(), Threads()
            m.fit(X, y, comm=comm, callbacks=[probe], **fit_kwargs())
            history = {"before": before, "during": probe.during, "after": lstmfast.config.get_num_threads()}
        elif scenario == "not_a_communicator":
            history = m.fit(X, y, comm="COMM_WORLD", **fit_kwargs())
        elif scenario == "progress":
            with open(os.path.join(out, f"stderr{rank}.txt"), "w") as err:
                sys.stderr = err
                history = m.fit(X, y, comm=comm, **{**fit_kwargs(), "progress": True})
                sys.stderr = sys.__stderr__
        else:
            raise SystemExit(f"unknown scenario {scenario}")
    except Exception as err:
        error = f"{type(err).__name__}: {err}"
    np.savez(
        os.path.join(out, f"rank{rank}.npz"),
        history=json.dumps(history),
        error=json.dumps(error),
        **{f"param.{k}": v for k, v in m.parameters().items()},
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
