"""Many independent jobs (one model per series, a grid of seeds) as Dask tasks:
:func:`fan_out` runs ``function(**arguments, seed=...)`` once per key, on an
embedded ``LocalCluster``, on an existing cluster by scheduler address, or
serially in this process, with the same results everywhere.

Each task's seed comes from the run's seed and the task's own key, never from
which worker runs it or in what order, and the kernels give the same numbers
for any thread count, so a run on a cluster equals the serial one bit for bit.
Each worker process runs the kernels on its share of its machine's cores (the
cores it may use // the task threads of all workers on that machine), so that
workers do not oversubscribe the machine.

Needs ``pip install "lstmfast[dask]"``; also reachable as ``lstmfast.dask``.
"""

from __future__ import annotations

import contextlib
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from .. import _checks, _core

__all__ = ["TaskFailed", "cluster", "fan_out", "task_seed", "threads_of_workers"]


class TaskFailed(RuntimeError):
    """A task of :func:`fan_out` raised; the message names its key and the error."""


def task_seed(seed: int, key: Any) -> int:
    """The seed of the task named ``key`` in a run seeded ``seed``: the same on any
    worker, in any order (``key``'s text, hashed with the run's seed)."""
    digest = zlib.crc32(str(key).encode("utf-8"))
    return int(np.random.SeedSequence([seed, digest]).generate_state(1, np.uint64)[0] >> np.uint64(1))


@contextlib.contextmanager
def cluster(scheduler: Any = "local", workers: int = 2) -> Iterator[Any]:
    """A ``distributed.Client``: ``"local"``, an embedded ``LocalCluster`` of
    ``workers`` single-threaded worker processes (closed on exit); an address
    (``"tcp://HOST:8786"``), that cluster's scheduler; or a ``Client`` you made. In
    every case each worker's kernel thread count is set to its share of its
    machine's cores."""
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        _share_cores(scheduler)
        yield scheduler
        return
    if scheduler == "local":
        n = _checks.integer("workers", workers, 1, 1024)
        with (
            LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
            ) as local,
            Client(local) as client,
        ):
            _share_cores(client)
            yield client
        return
    if not isinstance(scheduler, str) or "://" not in scheduler:
        raise ValueError(
            f"scheduler: expected 'local', a scheduler address like 'tcp://HOST:8786' or a distributed.Client, "
            f"got {scheduler!r}"
        )
    with Client(scheduler, timeout="30s") as client:
        _share_cores(client)
        yield client


def fan_out(
    function: Callable[..., Any],
    tasks: Mapping[Any, Mapping[str, Any]],
    *,
    seed: int | None = 0,
    scheduler: Any = "local",
    workers: int = 2,
) -> dict[Any, Any]:
    """``{key: function(**tasks[key], seed=task_seed(seed, key))}`` for every key,
    as Dask tasks (``scheduler`` as in :func:`cluster`) or, with ``scheduler=None``,
    one after another in this process. The results are the same either way.
    ``seed=None``: the tasks carry their own seeds; no ``seed`` argument is added.

    ``function`` must be importable by the workers (a module-level function);
    its arguments and result travel by pickle. A task that raises stops the run
    with :class:`TaskFailed` naming its key and the error.
    """
    if not callable(function):
        raise TypeError(f"function: expected a callable, got {type(function).__name__}")
    if not isinstance(tasks, Mapping):
        raise TypeError(f"tasks: expected a mapping {{key: {{argument: value}}}}, got {type(tasks).__name__}")
    if seed is None:
        calls = {key: dict(arguments) for key, arguments in tasks.items()}
    else:
        seed = _checks.integer("seed", seed, 0)
        calls = {key: {**dict(arguments), "seed": task_seed(seed, key)} for key, arguments in tasks.items()}
    if scheduler is None:
        return {key: _run(function, key, arguments) for key, arguments in calls.items()}
    with cluster(scheduler, workers) as client:
        futures = {
            key: client.submit(_run, function, key, arguments, key=f"lstmfast-{_task_name(key)}-{seed}", pure=False)
            for key, arguments in calls.items()
        }
        return dict(zip(futures, client.gather(list(futures.values()))))


def _run(function: Callable[..., Any], key: Any, arguments: dict[str, Any]) -> Any:
    try:
        return function(**arguments)
    except Exception as err:
        raise TaskFailed(f"task {key!r} failed: {type(err).__name__}: {err}") from err


def _task_name(key: Any) -> str:
    return "".join(c if c.isalnum() else "_" for c in str(key))[:60] + f"-{zlib.crc32(str(key).encode()):08x}"


def _usable_cores() -> int:
    return _core.default_num_threads()


def _set_threads(n: int) -> int:
    _core.set_num_threads(n)
    return _core.get_num_threads()


def _share_cores(client: Any) -> dict[str, int]:
    """Set each worker's kernel threads to its share of its machine: the cores it
    may use // the task threads of every worker on that machine; returns them."""
    workers = client.scheduler_info()["workers"]
    cores = client.run(_usable_cores)
    per_host = Counter[str]()
    for info in workers.values():
        per_host[info["host"]] += info["nthreads"]
    shares = {}
    for address, info in workers.items():
        n = max(1, cores[address] // per_host[info["host"]])
        shares[address] = client.run(_set_threads, n, workers=[address])[address]
    return shares


def threads_of_workers(client: Any) -> dict[str, int]:
    """Each worker's kernel thread count (to check what :func:`cluster` set)."""
    return dict(client.run(_core.get_num_threads))
