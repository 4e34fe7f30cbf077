"""Imported once by the process local Dask workers are forked from.

:data:`lifecircle.workers.WORKER_MODULES` names this module, so the ``forkserver``
imports it before it forks any worker: it loads the routing kernels a partition
runs from numba's on-disk cache and sets them to search categories one after
another (:func:`lifecircle.partition_worker.warm_up` with ``threads=False``), and
every worker forked afterwards has them loaded, instead of loading them itself
(~0.3-0.4 s each) before its first partition. Only kernels that start no threads
are loaded here: a process that has started OpenMP threads cannot fork safely. A
worker that should run categories in parallel threads (a local cluster with more
cores than workers) is switched back by the driver
(:class:`lifecircle.workers.StartingCluster`).

Importing this module has that effect on the importing process: nothing but the
forkserver imports it.
"""

from __future__ import annotations

import atexit
import os

from lifecircle.partition_worker import warm_up

warm_up(threads=False)


def _leave_at_once() -> None:
    os._exit(0)


atexit.register(_leave_at_once)
