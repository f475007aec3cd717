"""Data-parallel fit over MPI: two ranks on loopback (``mpiexec -n 2``), each
running tests/mpi_worker.py, compared with each other and with one process.

Tolerance of the comparisons with one process, float64: the two ranks' partial
gradients are summed by the Allreduce and then divided by the global count,
where one process divides first and sums inside one product, so each step's
gradient differs by a few ulps (~1e-16 relative); Adam's steps carry that over
3 epochs of 3-5 steps. RTOL = 1e-10 leaves a factor of ~1e4 of growth; measured
on this machine: at most 6e-14 relative (1.7e-16 absolute), the largest on the
smallest parameters.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("mpi4py")

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import lstmfast
import mpi_worker
from lstmfast.training import Adam

RTOL = 1e-10
WORKER = pathlib.Path(__file__).with_name("mpi_worker.py")


def mpiexec() -> str:
    found = shutil.which("mpiexec", path=str(pathlib.Path(sys.executable).parent)) or shutil.which("mpiexec")
    if found is None:
        pytest.fail("mpi4py is installed but mpiexec is not (pip install mpich, or a system MPI)")
    return found


def run(scenario: str, tmp_path: pathlib.Path, timeout: float = 120) -> list[dict]:
    """Both ranks' results: params, history, error."""
    done = subprocess.run(
        [mpiexec(), "-n", "2", sys.executable, str(WORKER), scenario, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = []
    for r in range(2):
        with np.load(tmp_path / f"rank{r}.npz") as z:
            ranks.append(
                {
                    "params": {k[6:]: z[k] for k in z.files if k.startswith("param.")},
                    "history": json.loads(str(z["history"])),
                    "error": json.loads(str(z["error"])),
                    "stderr": done.stderr,
                }
            )
    return ranks


def assert_same_params(a: dict, b: dict, rtol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=0, err_msg=name)


def serial_history_without_comm(history: dict) -> dict:
    return {k: v for k, v in history.items() if k != "allreduce_seconds"}


def test_split_batches_equal_one_process(tmp_path):
    ranks = run("split", tmp_path)
    assert ranks[0]["error"] is None and ranks[1]["error"] is None
    assert_same_params(ranks[0]["params"], ranks[1]["params"])  # bit for bit on every rank
    assert serial_history_without_comm(ranks[0]["history"]) == serial_history_without_comm(ranks[1]["history"])
    X, y = mpi_worker.data()
    serial = mpi_worker.model(seed=0)  # rank 0's model; rank 1 started from other weights
    history = serial.fit(X, y, validation_split=0.25, **mpi_worker.fit_kwargs())
    assert_same_params(ranks[0]["params"], serial.parameters(), RTOL)
    ours = serial_history_without_comm(ranks[0]["history"])
    assert ours.keys() == history.keys()
    for key in history:
        np.testing.assert_allclose(ours[key], history[key], rtol=RTOL, err_msg=key)
    assert len(ranks[0]["history"]["allreduce_seconds"]) == 3


def test_split_batches_with_lengths(tmp_path):
    ranks = run("split_lengths", tmp_path)
    assert ranks[0]["error"] is None
    X, y = mpi_worker.data()
    serial = mpi_worker.model(seed=0)
    lengths = np.random.default_rng(1).integers(1, mpi_worker.T + 1, mpi_worker.N)
    serial.fit(X, y, lengths=lengths, **mpi_worker.fit_kwargs())
    assert_same_params(ranks[1]["params"], serial.parameters(), RTOL)


def test_shards_make_the_global_batch(tmp_path):
    """Each step's batch is rank 0's next 8 sequences and rank 1's next 8; rank 1's
    shard (16) runs out one step before rank 0's (24)."""
    ranks = run("sharded", tmp_path)
    assert ranks[0]["error"] is None and ranks[1]["error"] is None
    assert_same_params(ranks[0]["params"], ranks[1]["params"])
    X, y = mpi_worker.data()
    steps = [np.r_[0:8, 24:32], np.r_[8:16, 32:40], np.r_[16:24]]
    Xv, yv = mpi_worker.data(seed=9)
    serial = mpi_worker.model(seed=0)
    kwargs = {**mpi_worker.fit_kwargs(), "optimizer": Adam(1e-2)}
    history = serial.fit([(X[:, s], y[:, s]) for s in steps], validation_data=(Xv, yv), **kwargs)
    assert_same_params(ranks[0]["params"], serial.parameters(), RTOL)
    for key in history:
        np.testing.assert_allclose(ranks[0]["history"][key], history[key], rtol=RTOL, err_msg=key)


def test_checkpoint_by_rank_0_and_resume(tmp_path):
    ranks = run("checkpoint", tmp_path)
    assert ranks[0]["error"] is None and ranks[1]["error"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz", "rank0.npz", "rank1.npz"]
    assert_same_params(ranks[0]["params"], ranks[1]["params"])
    # resumed from epoch 2 of 3 on rank 0's checkpoint (rank 1 read nothing): as an uninterrupted run
    X, y = mpi_worker.data()
    serial = mpi_worker.model(seed=0)
    serial.fit(X, y, **mpi_worker.fit_kwargs())
    assert_same_params(ranks[0]["params"], serial.parameters(), RTOL)
    assert len(ranks[0]["history"]["loss"]) == 3


@pytest.mark.parametrize(
    "scenario, message",
    [
        (
            "different_batch_size",
            "ValueError: fit(comm=...): the ranks disagree on batch_size (batch_size: rank 0: 8, rank 1: 16)",
        ),
        ("different_data", "ValueError: fit(comm=...): the ranks disagree on data checksum"),
    ],
)
def test_ranks_that_disagree_all_stop_naming_the_difference(tmp_path, scenario, message):
    ranks = run(scenario, tmp_path)
    for rank in ranks:
        assert rank["error"].startswith(message)


@pytest.mark.parametrize(
    "scenario, own_error",
    [
        ("bad_argument_on_one_rank", "ValueError: epochs: expected a positive int, got 0"),
        ("bad_batch_on_one_rank", "ValueError: batch 2: X: expected a 3-D array (T, N, I) with I = 2"),
        ("callback_fails_on_one_rank", "OSError: disk full (a test's callback)"),
    ],
)
def test_a_failing_rank_stops_every_rank(tmp_path, scenario, own_error):
    ranks = run(scenario, tmp_path)
    assert ranks[1]["error"].startswith(own_error)
    assert ranks[0]["error"] == "RankFailed: fit(comm=...): rank 1 failed (see its error); every rank stops"


def test_ranks_whose_parameters_differ_stop(tmp_path):
    """The end-of-epoch check can fail: a callback on rank 1 changes a parameter there."""
    for rank in run("diverge", tmp_path):
        assert rank["error"] == (
            "RuntimeError: fit(comm=...): the ranks' parameters differ after an epoch (the MPI library's Allreduce "
            "did not give every rank the same sums)"
        )


def test_ranks_on_one_machine_share_its_cores(tmp_path):
    default = lstmfast.config.kernel_config()["default_threads"]
    for rank in run("threads", tmp_path):
        assert rank["history"] == {
            "before": default,
            "during": max(1, min(default, (os.cpu_count() or 1) // 2)),
            "after": default,
        }


def test_comm_must_be_a_communicator(tmp_path):
    ranks = run("not_a_communicator", tmp_path)
    for rank in ranks:
        assert rank["error"] == ("TypeError: comm: expected an mpi4py communicator (MPI.COMM_WORLD, say), got str")


def test_arguments_without_comm():
    X, y = mpi_worker.data()
    model = mpi_worker.model()
    with pytest.raises(ValueError, match=r"sharded: only with comm \(data-parallel training over MPI\)"):
        model.fit(X, y, sharded=True, progress=False)
    with pytest.raises(ValueError, match="comm_timeout: expected"):
        model.fit(X, y, comm_timeout=0, progress=False)


def test_progress_on_rank_0_only(tmp_path):
    ranks = run("progress", tmp_path)
    assert ranks[0]["error"] is None
    assert "epoch 3/3" in (tmp_path / "stderr0.txt").read_text()
    assert (tmp_path / "stderr1.txt").read_text() == ""


def test_a_rank_that_never_answers_times_out(tmp_path):
    ranks = run("rank_never_calls_fit", tmp_path)
    assert ranks[0]["error"].startswith(
        "TimeoutError: fit(comm=...): rank 0 waited 1 s for the other ranks at the start of fit"
    )
    assert ranks[1]["error"] is None and ranks[1]["history"] is None
