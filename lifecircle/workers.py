"""The processes of a partitioned run on this machine, started before the library loads.

A partitioned run on a ``LocalCluster`` forks its worker processes from one
``forkserver`` process that has imported what a partition task needs
(:data:`WORKER_MODULES`) once (:func:`use_forkserver`). That import takes seconds on
a small machine. The ``lifecircle`` command starts the server first thing
(:func:`start_worker_server`), then the cluster itself in a background thread
(:func:`start_cluster_early`: Dask's scheduler and the workers forked from the
server), before it imports the library: the imports run side by side, and the
cluster is up when the driver has read its inputs
(:func:`take_early_cluster`, :func:`lifecircle.partition.run_partitioned`).

This module imports nothing but the standard library when it loads: it runs before
everything else. Dask is imported by the background thread that starts a cluster.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from multiprocessing import forkserver
from typing import Any

__all__ = ["WORKER_MODULES", "ClusterOptions", "StartingCluster", "close_cluster",
           "local_cluster", "local_threads", "start_cluster_early", "start_worker_server",
           "starts_local_workers", "take_early_cluster", "use_forkserver"]

log = logging.getLogger(__name__)

#: Modules every local worker process needs: Dask's worker and the partition task
#: (which imports routing, not the loaders or the targets engine), then the routing
#: kernels loaded once for every worker (:mod:`lifecircle.worker_process`).
WORKER_MODULES = ("distributed", "lifecircle.partition_worker", "lifecircle.worker_process")

#: Dask's setting of how local workers are started (``spawn`` unless configured).
_METHOD_ENV = "DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD"


def forkserver_available() -> bool:
    """Whether local workers can be forked from a server (not on Windows), and Dask's
    start method is its default (``spawn``, which :mod:`lifecircle.partition` changes
    to ``forkserver``) as far as the environment says."""
    return ("forkserver" in multiprocessing.get_all_start_methods()
            and os.environ.get(_METHOD_ENV, "spawn") == "spawn")


def start_worker_server() -> bool:
    """Start the ``forkserver`` process with :data:`WORKER_MODULES` preloaded.

    Returns at once: the server imports the modules in the background. The cluster
    started later by :func:`lifecircle.partition.run_partitioned` forks its workers
    from it. Returns False (and starts nothing) where workers are not forked.
    """
    if not forkserver_available():
        return False
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_MODULES))
    forkserver.ensure_running()
    return True


def starts_local_workers(argv: Sequence[str]) -> bool:
    """Whether a command line (without the program name) is a ``lifecircle run`` that
    will start local workers: ``--partition`` given, ``--scheduler`` not."""
    args = list(argv)
    if not args or args[0] != "run":
        return False

    def given(option: str) -> bool:
        return any(a == option or a.startswith(option + "=") for a in args[1:])

    return given("--partition") and not given("--scheduler")


# ---------------------------------------------------------------------------
# the local cluster, started in the background
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterOptions:
    """A local cluster: its worker processes and the memory limit of each (Dask
    syntax, ``"auto"`` shares the machine's memory)."""

    workers: int = 2
    worker_memory: str = "auto"


def use_forkserver() -> None:
    """Local workers forked from a server process that has imported the library once.

    Dask starts local workers by ``spawn`` by default: every worker process is a new
    interpreter importing the library (and the program that started the run) on its
    own, seconds each on a small machine. With ``forkserver`` they are forked from
    one server process that imported them once, which is as safe (the server has no
    threads). Set for this process once; where ``forkserver`` is not available
    (Windows) or the user configured another method, nothing changes. The server may
    be running already (:func:`start_worker_server`); it is used as it is.
    """
    import dask
    from distributed.utils import get_mp_context

    key = "distributed.worker.multiprocessing-method"
    if ("forkserver" not in multiprocessing.get_all_start_methods()
            or dask.config.get(key) != "spawn"):
        return
    dask.config.set({key: "forkserver"})
    get_mp_context()  # Dask sets its own preload list on first use: extend it after
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_MODULES))


def local_cluster(options: ClusterOptions) -> tuple[Any, Any]:
    """``(client, cluster)`` of a new ``LocalCluster``: one single-threaded worker
    process per ``options.workers``, forked from the worker server
    (:func:`use_forkserver`)."""
    from distributed import Client, LocalCluster

    use_forkserver()
    cluster = LocalCluster(n_workers=options.workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", memory_limit=options.worker_memory,
                           scheduler_port=0, silence_logs=logging.ERROR)
    try:
        return Client(cluster), cluster
    except BaseException:
        cluster.close()
        raise


def close_cluster(client: Any, cluster: Any) -> None:
    """Close a client and, if it started one, its local cluster."""
    client.close()
    if cluster is not None:
        cluster.close()


def warm_threads(client: Any) -> None:
    """Have every worker search categories in parallel threads
    (:func:`lifecircle.partition_worker.warm_up`): for workers with cores of their own."""
    from lifecircle.partition_worker import warm_up

    client.run(warm_up, threads=True)


class StartingCluster:
    """A cluster started in a background thread while the driver does other work.

    ``connect`` (a function giving ``(client, cluster)``, e.g. :func:`local_cluster`)
    runs in the thread, then, with ``threads``, :func:`warm_threads`: workers that
    share the cores with others keep the one-category-at-a-time search the worker
    server loaded (:mod:`lifecircle.worker_process`). :meth:`client` waits for the
    start to finish. :meth:`close` also waits for it first, so a run refused for bad
    input shuts down a cluster with nothing in flight (no Dask traceback), and
    silences Dask's logging while it does.
    """

    def __init__(self, connect: Callable[[], tuple[Any, Any]], *, threads: bool,
                 key: Any = None) -> None:
        self.key = key
        self._connect, self._threads = connect, threads
        self._dask_log = logging.getLogger("distributed")
        self._dask_level: int | None = None
        self._client: Any = None
        self._cluster: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="lifecircle-cluster-start",
                                        daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            # Imported here, in the background, for start-up speed; importing it
            # sets up Dask's logging, adjusted just below.
            import distributed  # noqa: F401

            # Dask's own messages (scheduler and nanny start and stop) are not the
            # run's: warnings and errors only while the cluster lives, nothing while it
            # shuts down (close()), then Dask's level again
            self._dask_level = self._dask_log.level
            self._dask_log.setLevel(max(self._dask_log.getEffectiveLevel(), logging.WARNING))
            self._client, self._cluster = self._connect()
        except BaseException as exc:  # re-raised by client(), in the driver's thread
            self._error = exc
            return
        if self._threads:
            try:
                warm_threads(self._client)
            except Exception as exc:  # only a speed-up: one category at a time is right too
                log.debug("switching the workers to threads failed: %s", exc)

    def client(self) -> Any:
        """The connected client, once the cluster is up."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._client

    def close(self) -> None:
        """Wait for the start to finish, then shut the cluster down."""
        self._thread.join()
        self._dask_log.setLevel(logging.CRITICAL + 1)
        try:
            if self._client is not None:
                close_cluster(self._client, self._cluster)
                self._client = None
        finally:
            if self._dask_level is not None:
                self._dask_log.setLevel(self._dask_level)


def local_threads(workers: int) -> bool:
    """Whether local workers have cores of their own (then they search categories in
    parallel threads)."""
    return (os.cpu_count() or 1) // max(workers, 1) > 1


#: The local cluster :func:`start_cluster_early` started, until a run takes it.
_EARLY: StartingCluster | None = None


def start_cluster_early(argv: Sequence[str]) -> bool:
    """Start the local cluster of a ``lifecircle run --partition`` command line now,
    in the background, before the library is imported: its scheduler and workers are
    up by the time the run has read its inputs (:func:`take_early_cluster`). Returns
    False (and starts nothing) for other command lines, or when the options cannot be
    read (the command then reports them).
    """
    global _EARLY
    if not starts_local_workers(argv) or _EARLY is not None:
        return False
    options = _cluster_options(list(argv))
    if options is None:
        return False
    _EARLY = StartingCluster(partial(local_cluster, options),
                             threads=local_threads(options.workers), key=options)
    atexit.register(_close_early)
    return True


def take_early_cluster(options: ClusterOptions) -> StartingCluster | None:
    """The cluster :func:`start_cluster_early` started, if it is for ``options``
    (closed otherwise); None when there is none."""
    global _EARLY
    early, _EARLY = _EARLY, None
    if early is not None and early.key != options:
        early.close()
        return None
    return early


def _close_early() -> None:
    """At exit: close a cluster started early that no run took (e.g. bad options)."""
    global _EARLY
    early, _EARLY = _EARLY, None
    if early is not None:
        early.close()


def _cluster_options(args: list[str]) -> ClusterOptions | None:
    """``--workers`` and ``--worker-memory`` of a command line, with the command's
    defaults; None when they cannot be read."""
    values = {"--workers": "2", "--worker-memory": "auto"}
    for i, a in enumerate(args):
        for name in values:
            if a == name and i + 1 < len(args):
                values[name] = args[i + 1]
            elif a.startswith(name + "="):
                values[name] = a.split("=", 1)[1]
    try:
        workers = int(values["--workers"])
    except ValueError:
        return None
    return ClusterOptions(workers=workers, worker_memory=values["--worker-memory"]) \
        if workers >= 1 else None
