"""The process local Dask workers are forked from, started before the library loads.

A partitioned run on a ``LocalCluster`` forks its worker processes from one
``forkserver`` process that has imported what a partition task needs
(:data:`WORKER_MODULES`) once (:func:`lifecircle.partition._fork_workers`). That
import takes seconds on a small machine. The ``lifecircle`` command starts the
server first thing (:func:`start_worker_server`), before it imports the library
itself, so the two imports run side by side and the workers are ready when the
driver has read its inputs.

This module imports nothing but the standard library: it runs before everything
else.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from multiprocessing import forkserver

__all__ = ["WORKER_MODULES", "start_worker_server", "starts_local_workers"]

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
