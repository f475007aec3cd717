"""Data-parallel training over MPI: what ``fit(..., comm=MPI.COMM_WORLD)`` adds to
the training loop.

Every rank runs the same loop on its own part of each batch; one ``Allreduce``
per step sums, in one flat buffer of the model's dtype, the gradient of every
parameter with the step's loss, counts, accuracy counts and two flags (has this
rank a next batch, has it failed). Every rank then scales by the global count and
takes the same optimizer step, so the parameters stay identical on every rank
(checked after each epoch).

Two ways to hold the data:

* ``sharded=False``: every rank passes the same data; each global batch (the
  one a single process would take, in the same shuffled order) is split into
  ``size`` contiguous parts, one per rank. The result equals a single-process
  ``fit`` with the same arguments and seed but for the order of the sums.
* ``sharded=True``: each rank passes its own data (a shard); each rank takes
  ``batch_size`` sequences per step from its shard, the global batch being the
  sum of the ranks' batches; an epoch ends when every rank has run out (a rank
  that ran out first contributes nothing to the last steps).

What can go wrong stops every rank with an exception, never a hang: the ranks
first agree on the call (the model, its shapes, the arguments; for
``sharded=False`` a checksum of the data), a rank whose step fails (a bad batch,
an exception anywhere in its loop) tells the others through the next collective,
and a rank that stops answering (killed, stuck, never called ``fit``) is caught
by a timeout on every collective (``comm_timeout`` seconds).

Only rank 0 shows progress and runs the callbacks that write files
(:class:`ModelCheckpoint`, the loggers); every rank runs the others
(:class:`EarlyStopping` sees the same history everywhere, so every rank stops
at the same epoch).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import zlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .. import _core
from .data import Batch, select
from .tasks import Scores, Task

if TYPE_CHECKING:
    from .model import SequenceModel

__all__ = ["DataParallel", "RankFailed"]

Array = np.ndarray[Any, Any]
# the sums of a step after the gradients: loss, count, right, seen, sequences, has a next batch
_SUMS = ("loss", "count", "right", "seen", "sequences", "next")


class RankFailed(RuntimeError):
    """Another rank failed; this one stops too (the failing rank raises its own error)."""


class Step(NamedTuple):
    """One step's global sums (the gradients already divided by the global count)."""

    loss: float
    counted: float  # targets counted in the loss
    right: float
    seen: float
    sequences: int
    more: bool  # does any rank have a next batch


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError('comm: data-parallel training needs mpi4py: pip install "lstmfast[mpi]"') from err
    return MPI


class DataParallel:
    """The collectives of one data-parallel ``fit`` on ``comm`` (an mpi4py
    intracommunicator), each bounded by ``timeout`` seconds."""

    def __init__(self, comm: Any, sharded: bool, timeout: float) -> None:
        MPI = _mpi()
        if not isinstance(comm, MPI.Intracomm):
            raise TypeError(f"comm: expected an mpi4py communicator (MPI.COMM_WORLD, say), got {type(comm).__name__}")
        self.MPI, self.comm, self.sharded, self.timeout = MPI, comm, sharded, timeout
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.seconds = 0.0  # spent waiting in collectives (the Allreduce and the waits for slower ranks)
        self.buffer: Array | None = None

    # -- collectives ---------------------------------------------------------------

    def _wait(self, request: Any, what: str) -> None:
        """Wait for a non-blocking collective, at most ``timeout`` seconds."""
        start = time.perf_counter()
        deadline, pause = start + self.timeout, 0.0
        while not request.Test():
            now = time.perf_counter()
            if now > deadline:
                raise TimeoutError(
                    f"fit(comm=...): rank {self.rank} waited {self.timeout:g} s for the other ranks at {what}; one of "
                    f"them failed, hung or never called fit with comm (raise comm_timeout for very long steps)"
                )
            if now - start > 1e-3:  # spin for a millisecond, then let the CPU go
                time.sleep(pause)
                pause = min(max(pause * 2, 1e-5), 1e-2)
        self.seconds += time.perf_counter() - start

    def _allreduce(self, buffer: Array, op: Any, what: str) -> None:
        self._wait(self.comm.Iallreduce(self.MPI.IN_PLACE, buffer, op=op), what)

    def _failed(self, flags: Array, error: BaseException | None) -> None:
        """Raise on every rank if any rank raised: its own error there, RankFailed elsewhere."""
        failed = [int(r) for r in np.flatnonzero(flags)]
        if not failed:
            return
        if error is not None:
            raise error
        raise RankFailed(f"fit(comm=...): rank {failed[0]} failed (see its error); every rank stops")

    # -- before the first step -----------------------------------------------------

    def agree(self, description: Mapping[str, Any] | None, error: BaseException | None) -> None:
        """Every rank describes its call (None with the error that stopped it): raise
        on every rank if one failed, or if the descriptions differ."""
        flags = np.zeros(self.size + 8, np.int64)  # failed ranks, the digest, minus the digest
        flags[self.rank] = error is not None
        if description is not None:
            text = json.dumps(description, sort_keys=True, default=str).encode()
            digest = np.frombuffer(hashlib.sha256(text).digest(), np.int64) & ((1 << 62) - 1)
            flags[self.size : self.size + 4], flags[self.size + 4 :] = digest, -digest
        self._allreduce(flags, self.MPI.MAX, "the start of fit")
        self._failed(flags[: self.size], error)
        if np.array_equal(flags[self.size : self.size + 4], -flags[self.size + 4 :]):
            return
        everyone = self.comm.allgather(description)  # every rank is there: the reduction just completed
        differ = sorted(k for k in everyone[0] if any(d.get(k) != everyone[0][k] for d in everyone[1:]))
        details = "; ".join(
            f"{k}: " + ", ".join(f"rank {r}: {d.get(k)}" for r, d in enumerate(everyone)) for k in differ
        )
        raise ValueError(f"fit(comm=...): the ranks disagree on {', '.join(differ)} ({details})")

    @contextlib.contextmanager
    def threads(self) -> Iterator[None]:
        """During the steps, the kernels of the ranks that share a machine share its
        cores (cores // ranks there, at least 1) instead of each taking them all;
        unless the caller chose a count (``set_num_threads``,
        ``LSTMFAST_NUM_THREADS``). A collective: call it on every rank after
        :meth:`agree`."""
        local = self.comm.Split_type(self.MPI.COMM_TYPE_SHARED)
        ranks_here = local.Get_size()
        local.Free()
        previous = _core.get_num_threads()
        chosen = os.environ.get("LSTMFAST_NUM_THREADS") or previous != _core.default_num_threads()
        if not chosen:
            _core.set_num_threads(max(1, min(previous, (os.cpu_count() or 1) // ranks_here)))
        try:
            yield
        finally:
            _core.set_num_threads(previous)

    def share(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (once per fit: pickled)."""
        return self.comm.bcast(value, root=0)

    # -- each step -----------------------------------------------------------------

    def batches(self, model: SequenceModel, train: Any, batch_size: int, shuffle: bool, rng: Any, epoch: Any) -> Any:
        """This rank's batches of the epoch: parts of the global batches, or its shard's."""
        if not self.sharded:
            return (self._part(model, batch) for batch in epoch(model, train, batch_size, shuffle, rng))
        if isinstance(train, tuple) and shuffle:  # each rank its own order, from a seed every rank draws alike
            local = np.random.default_rng([int(rng.integers(2**63)), self.rank])
            return epoch(model, train, batch_size, shuffle, local)
        return epoch(model, train, batch_size, shuffle, rng)

    def _part(self, model: SequenceModel, batch: Batch) -> Batch | None:
        N = batch.x.shape[1]
        bounds = np.linspace(0, N, self.size + 1).astype(int)  # contiguous, as equal as can be
        start, stop = bounds[self.rank], bounds[self.rank + 1]
        return select(model.output, *batch, slice(start, stop)) if stop > start else None

    def first(self, batches: Iterator[Any]) -> tuple[Any, bool]:
        """This rank's first batch of the epoch (None if none or if it failed) and
        whether any rank has one."""
        batch, error = _next(batches)
        flags = np.zeros(self.size + 1, np.int64)
        flags[self.rank], flags[-1] = error is not None, batch is not None
        self._allreduce(flags, self.MPI.MAX, "the start of an epoch")
        self._failed(flags[: self.size], error)
        return batch, bool(flags[-1])

    def step(
        self, model: SequenceModel, batch: Any, batches: Iterator[Any], task: Any, params: Mapping[str, Array]
    ) -> tuple[Step, dict[str, Array], Any]:
        """Compute this rank's part (``batch`` may be None), fetch its next batch, and
        sum everything over the ranks: returns the step, the mean gradients (views of
        one buffer, valid until the next step) and this rank's next batch."""
        sizes = [p.size for p in params.values()]
        total = sum(sizes)
        if self.buffer is None or self.buffer.size != total + len(_SUMS) + self.size:
            self.buffer = np.empty(total + len(_SUMS) + self.size, dtype=model.dtype)
        buf = self.buffer
        buf[:] = 0
        error: BaseException | None = None
        following = None
        try:
            if batch is not None:
                loss, count, grads, logits, mask = model._train_batch(
                    batch.x, batch.y, batch.mask, batch.lengths, task, mean=False
                )
                right, seen = task.correct(logits, batch.y, mask) if task.metrics else (0.0, 0.0)
                offset = 0
                for name, size in zip(params, sizes):
                    buf[offset : offset + size] = grads[name].ravel()
                    offset += size
                buf[total : total + 5] = loss, count, right, seen, batch.x.shape[1]
            following, error = _next(batches)
        except Exception as err:  # told to every rank below, then raised here
            error = err
        buf[total + 5] = following is not None
        buf[total + len(_SUMS) + self.rank] = error is not None
        self._allreduce(buf, self.MPI.SUM, "a training step")
        self._failed(buf[total + len(_SUMS) :], error)
        loss, count, right, seen, sequences, more = (float(v) for v in buf[total : total + len(_SUMS)])
        if count > 0:
            buf[:total] *= buf.dtype.type(1.0 / count)
        grads, offset = {}, 0
        for (name, p), size in zip(params.items(), sizes):
            grads[name] = buf[offset : offset + size].reshape(p.shape)
            offset += size
        return Step(loss, count, right, seen, round(sequences), more > 0), grads, following

    # -- after each epoch ------------------------------------------------------------

    def end_epoch(self, params: Mapping[str, Array], stop: bool, error: BaseException | None) -> bool:
        """Raise everywhere if a rank failed after its steps (validation, a callback) or
        if the parameters differ between ranks; returns whether any rank stops."""
        crc = 0
        for p in params.values():
            crc = zlib.crc32(np.ascontiguousarray(p).view(np.uint8).data, crc)
        flags = np.zeros(self.size + 3, np.int64)
        flags[self.rank], flags[-3], flags[-2], flags[-1] = error is not None, stop, crc, -crc
        self._allreduce(flags, self.MPI.MAX, "the end of an epoch")
        self._failed(flags[: self.size], error)
        if flags[-2] != -flags[-1]:
            raise RuntimeError(
                "fit(comm=...): the ranks' parameters differ after an epoch (the MPI library's Allreduce did not "
                "give every rank the same sums)"
            )
        return bool(flags[-3])

    def sum_scores(self, scores: Scores | None, task: Task, error: BaseException | None) -> Scores:
        """Every rank's validation scores (None with the error computing them raised)
        summed over the ranks; raises on every rank if one failed."""
        buffer = np.zeros(self.size + 4)
        buffer[self.rank] = error is not None
        if scores is not None:
            buffer[self.size :] = scores.sums()
        self._allreduce(buffer, self.MPI.SUM, "validation")
        self._failed(buffer[: self.size], error)
        total = Scores(task)
        total.add_sums(*(float(v) for v in buffer[self.size :]))
        return total


def _next(batches: Iterator[Any]) -> tuple[Any, BaseException | None]:
    """The next batch (None at the end), or the error fetching it raised."""
    try:
        return next(batches, None), None
    except Exception as err:
        return None, err


def data_checksum(arrays: Any) -> int:
    """A CRC-32 of every array (each in slices along its first axis, so that a memory-map is
    read in pieces, never copied whole)."""
    crc = 0
    for arr in arrays:
        if arr is None:
            continue
        for piece in (arr[k : k + 1024] for k in range(0, max(len(arr), 1), 1024)):
            crc = zlib.crc32(np.ascontiguousarray(piece).view(np.uint8).data, crc)
    return crc
