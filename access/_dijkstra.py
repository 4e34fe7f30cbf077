"""Compiled shortest-path kernels over CSR graphs (private; see :mod:`access.travel`).

* :func:`multi_source` -- one search from many sources at once (nearest source per
  node), with a bucket queue of width ``delta``. Within a bucket nodes are scanned
  label-correcting: a node whose label falls again is scanned again, so results
  are exact for any ``delta`` > 0; with ``delta`` no larger than the shortest arc,
  no node is scanned twice (Dial/Dinitz).
* :func:`multi_source_many` -- the same for several categories in parallel threads
  (one after another in a process set to :func:`use_threads` ``(False)``).
* :func:`k_nearest` -- the k nearest distinct sources per node (k-label search with a
  binary heap).
* :func:`bounded_from_each` -- a bounded search from every source separately, giving
  all (source, node, distance) pairs within a limit (catchments for 2SFCA).

Every kernel takes plain arrays; distances are float64, infinity where unreached.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["bounded_from_each", "k_nearest", "multi_source", "multi_source_many",
           "use_threads"]

#: Whether :func:`multi_source_many` runs categories in parallel threads (OpenMP or
#: numba's own pool). A worker process of a local cluster, one of several sharing
#: the cores, runs them one after another instead: the same work without its
#: threads, and without loading the parallel kernel.
_THREADS = True


#: ``lower`` of a search without pruning (no node has a bound).
_NO_BOUND = np.zeros(0, np.float64)


def use_threads(enabled: bool) -> None:
    """Run :func:`multi_source_many`'s categories in parallel threads (the default) or
    one after another, in this process."""
    global _THREADS
    _THREADS = bool(enabled)


@njit(cache=True, nogil=True, inline="always")
def _push(v, bucket, head, pool_node, pool_next, free, top):
    """Put node ``v`` into ``bucket``: entries are linked lists in a pool that reuses
    freed entries and doubles when full. Returns the (possibly new) pool state."""
    if free >= 0:
        e = free
        free = pool_next[e]
    else:
        if top == len(pool_node):
            pn = np.empty(2 * top, np.int64)
            pn[:top] = pool_node
            px = np.empty(2 * top, np.int64)
            px[:top] = pool_next
            pool_node, pool_next = pn, px
        e = top
        top += 1
    pool_node[e] = v
    pool_next[e] = head[bucket]
    head[bucket] = e
    return pool_node, pool_next, free, top


@njit(cache=True, nogil=True)
def _multi_source(indptr, indices, w, src_node, src_dist, max_dist, delta, dist, near,
                  wmax, lower):
    n = len(indptr) - 1
    # lower[v]: a lower bound of the cost from v to any node whose label is wanted (or
    # empty: every label is wanted). A label that cannot reach one within max_dist is
    # not set: the wanted labels are those of a search without the bound.
    prune = len(lower) == n
    for i in range(n):
        dist[i] = np.inf
        near[i] = -1
    scanned = np.full(n, -1.0)
    if wmax < 0:
        wmax = 0.0
        for e in range(len(w)):
            if w[e] > wmax:
                wmax = w[e]
    n_buckets = int(wmax / delta) + 2
    head = np.full(n_buckets, -1, np.int64)
    cap = len(src_node) + n + 16
    pool_node = np.empty(cap, np.int64)
    pool_next = np.empty(cap, np.int64)
    free = -1
    top = 0
    count = 0
    # the labelled source nodes, each once (the first source with the smallest label wins)
    seeds = np.empty(len(src_node), np.int64)
    n_seeds = 0
    for s in range(len(src_node)):
        v = src_node[s]
        d = src_dist[s]
        if d < dist[v] and d <= max_dist and (not prune or d + lower[v] <= max_dist):
            if near[v] < 0:
                seeds[n_seeds] = v
                n_seeds += 1
            dist[v] = d
            near[v] = s
    # first bucket holds the sources with the smallest labels; the others wait in theirs:
    # with a circular array of n_buckets they must all lie within wmax of cur, which
    # need not hold for arbitrary source offsets, so start sources in order of label
    # (ties by node number)
    seeds = np.sort(seeds[:n_seeds])
    order = seeds[np.argsort(dist[seeds], kind="mergesort")]
    pending = n_seeds
    cur = int(dist[order[0]] / delta) if n_seeds else -1
    pi = 0
    while True:
        # release sources whose bucket is now within reach of the circular array
        while pi < pending and int(dist[order[pi]] / delta) < cur + n_buckets - 1:
            v = order[pi]
            pi += 1
            if near[v] < 0 or scanned[v] == dist[v]:
                continue
            b = max(int(dist[v] / delta), cur)
            pool_node, pool_next, free, top = _push(v, b % n_buckets, head, pool_node,
                                                    pool_next, free, top)
            count += 1
        if count == 0:
            if pi >= pending:
                break
            cur = int(dist[order[pi]] / delta)
            continue
        bi = cur % n_buckets
        while head[bi] >= 0:
            e = head[bi]
            head[bi] = pool_next[e]
            pool_next[e] = free
            free = e
            count -= 1
            u = pool_node[e]
            du = dist[u]
            if int(du / delta) > cur or scanned[u] == du:
                continue  # stale entry: a lower label was scanned, or is due later
            scanned[u] = du
            nu = near[u]
            for j in range(indptr[u], indptr[u + 1]):
                v = indices[j]
                nd = du + w[j]
                if nd < dist[v] and nd <= max_dist and (
                        not prune or nd + lower[v] <= max_dist):
                    dist[v] = nd
                    near[v] = nu
                    pool_node, pool_next, free, top = _push(
                        v, int(nd / delta) % n_buckets, head, pool_node, pool_next, free, top)
                    count += 1
        cur += 1


def multi_source(indptr: np.ndarray, indices: np.ndarray, w: np.ndarray,
                 src_node: np.ndarray, src_dist: np.ndarray, *, max_dist: float = np.inf,
                 delta: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distance from the nearest source to every node, and which source that is.

    Parameters
    ----------
    indptr, indices, w
        CSR graph with non-negative arc weights.
    src_node
        Node of each source.
    src_dist
        Initial label of each source (e.g. its straight access leg), >= 0.
    max_dist
        Labels above this are not set (left infinite).
    delta
        Bucket width; default: the shortest positive arc, at least 1.

    Returns
    -------
    dist : numpy.ndarray
        float64 per node, inf where no source is within ``max_dist``.
    near : numpy.ndarray
        int64 index into the sources per node, -1 where unreached.
    """
    n = len(indptr) - 1
    dist = np.empty(n, np.float64)
    near = np.empty(n, np.int64)
    _multi_source(indptr, indices, np.asarray(w, np.float64),
                  np.asarray(src_node, np.int64), np.asarray(src_dist, np.float64),
                  float(max_dist), _delta(w, delta), dist, near, -1.0, _NO_BOUND)
    return dist, near


def _delta(w: np.ndarray, delta: float | None) -> float:
    if delta is not None:
        if not delta > 0:
            raise ValueError(f"delta must be positive, got {delta}")
        return float(delta)
    pos = w[w > 0]
    return max(float(pos.min()), 1.0) if len(pos) else 1.0


@njit(cache=True, parallel=True)
def _many(indptr, indices, w, src_node, src_dist, src_ptr, max_dist, delta, dist, near,
          lower):
    n_cat = len(src_ptr) - 1
    wmax = 0.0
    for e in range(len(w)):
        if w[e] > wmax:
            wmax = w[e]
    for c in prange(n_cat):
        a, b = src_ptr[c], src_ptr[c + 1]
        _multi_source(indptr, indices, w, src_node[a:b], src_dist[a:b], max_dist, delta,
                      dist[c], near[c], wmax, lower)


def multi_source_many(indptr: np.ndarray, indices: np.ndarray, w: np.ndarray,
                      sources: list[tuple[np.ndarray, np.ndarray]], *,
                      max_dist: float = np.inf, delta: float | None = None,
                      lower: np.ndarray | None = None,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`multi_source` for several source sets, run in parallel threads.

    Parameters
    ----------
    sources
        One ``(src_node, src_dist)`` pair per category.
    lower
        Per node, a lower bound of the cost from it to any node whose label is
        wanted (0 at those nodes), e.g. the straight-line distance to their bounding
        box (A*-style pruning). Labels that cannot lead to a wanted node within
        ``max_dist`` are then not set (nor searched from); the wanted nodes' labels
        are exactly those of the search without it. None: every label is wanted.

    Returns
    -------
    dist, near : numpy.ndarray
        Shape ``(len(sources), n_nodes)``; ``near`` indexes each category's own sources.
    """
    n = len(indptr) - 1
    ptr = np.zeros(len(sources) + 1, np.int64)
    ptr[1:] = np.cumsum([len(s[0]) for s in sources])
    nodes = np.concatenate([np.asarray(s[0], np.int64) for s in sources]) if sources \
        else np.zeros(0, np.int64)
    offs = np.concatenate([np.asarray(s[1], np.float64) for s in sources]) if sources \
        else np.zeros(0, np.float64)
    dist = np.empty((len(sources), n), np.float64)
    near = np.empty((len(sources), n), np.int64)
    w = np.asarray(w, np.float64)
    bound = _NO_BOUND if lower is None else np.asarray(lower, np.float64)
    if lower is not None and len(bound) != n:
        raise ValueError(f"lower has {len(bound)} values for {n} nodes")
    if _THREADS:
        _many(indptr, indices, w, nodes, offs, ptr, float(max_dist), _delta(w, delta), dist,
              near, bound)
        return dist, near
    step, wmax = _delta(w, delta), max(float(w.max()), 0.0) if len(w) else 0.0
    for c in range(len(sources)):
        a, b = ptr[c], ptr[c + 1]
        _multi_source(indptr, indices, w, nodes[a:b], offs[a:b], float(max_dist), step,
                      dist[c], near[c], wmax, bound)
    return dist, near


@njit(cache=True, nogil=True)
def _heap_push(hk, hv, hs, size, key, val, src):
    if size == len(hk):
        n2 = 2 * len(hk)
        k2 = np.empty(n2, np.float64)
        k2[:size] = hk[:size]
        v2 = np.empty(n2, np.int64)
        v2[:size] = hv[:size]
        s2 = np.empty(n2, np.int64)
        s2[:size] = hs[:size]
        hk, hv, hs = k2, v2, s2
    i = size
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= key:
            break
        hk[i] = hk[p]
        hv[i] = hv[p]
        hs[i] = hs[p]
        i = p
    hk[i] = key
    hv[i] = val
    hs[i] = src
    return hk, hv, hs, size + 1


@njit(cache=True, nogil=True)
def _heap_pop(hk, hv, hs, size):
    key, val, src = hk[0], hv[0], hs[0]
    size -= 1
    lk, lv, ls = hk[size], hv[size], hs[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and hk[c + 1] < hk[c]:
            c += 1
        if hk[c] >= lk:
            break
        hk[i] = hk[c]
        hv[i] = hv[c]
        hs[i] = hs[c]
        i = c
    if size > 0:
        hk[i] = lk
        hv[i] = lv
        hs[i] = ls
    return key, val, src, size


@njit(cache=True, nogil=True)
def _k_nearest(indptr, indices, w, src_node, src_dist, k, max_dist, lab_d, lab_s):
    n = len(indptr) - 1
    cnt = np.zeros(n, np.int64)
    hk = np.empty(max(16, 4 * len(src_node)), np.float64)
    hv = np.empty(len(hk), np.int64)
    hs = np.empty(len(hk), np.int64)
    size = 0
    for s in range(len(src_node)):
        if src_dist[s] <= max_dist:
            hk, hv, hs, size = _heap_push(hk, hv, hs, size, src_dist[s], src_node[s], s)
    while size > 0:
        d, u, s, size = _heap_pop(hk, hv, hs, size)
        c = cnt[u]
        if c >= k:
            continue
        dup = False
        for t in range(c):
            if lab_s[u, t] == s:
                dup = True
                break
        if dup:
            continue
        lab_d[u, c] = d
        lab_s[u, c] = s
        cnt[u] = c + 1
        for j in range(indptr[u], indptr[u + 1]):
            v = indices[j]
            if cnt[v] >= k:
                continue
            nd = d + w[j]
            if nd <= max_dist:
                hk, hv, hs, size = _heap_push(hk, hv, hs, size, nd, v, s)


def k_nearest(indptr: np.ndarray, indices: np.ndarray, w: np.ndarray, src_node: np.ndarray,
              src_dist: np.ndarray, k: int, *, max_dist: float = np.inf,
              ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest distinct sources of every node.

    Returns
    -------
    dist : numpy.ndarray
        ``(n_nodes, k)`` float64, ascending per row, inf where fewer than k are in reach.
    src : numpy.ndarray
        ``(n_nodes, k)`` int64 source indices, -1 where none.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n = len(indptr) - 1
    lab_d = np.full((n, k), np.inf)
    lab_s = np.full((n, k), -1, np.int64)
    _k_nearest(indptr, indices, np.asarray(w, np.float64), np.asarray(src_node, np.int64),
               np.asarray(src_dist, np.float64), int(k), float(max_dist), lab_d, lab_s)
    return lab_d, lab_s


@njit(cache=True, nogil=True)
def _bounded_from_each(indptr, indices, w, src_node, src_dist, max_dist):
    n = len(indptr) - 1
    dist = np.full(n, np.inf)
    done = np.zeros(n, np.bool_)
    touched = np.empty(n, np.int64)
    cap = 1024
    out_s = np.empty(cap, np.int64)
    out_v = np.empty(cap, np.int64)
    out_d = np.empty(cap, np.float64)
    m = 0
    hk = np.empty(1024, np.float64)
    hv = np.empty(1024, np.int64)
    hs = np.empty(1024, np.int64)
    for s in range(len(src_node)):
        n_t = 0
        size = 0
        if src_dist[s] > max_dist:
            continue
        dist[src_node[s]] = src_dist[s]
        touched[n_t] = src_node[s]
        n_t += 1
        hk, hv, hs, size = _heap_push(hk, hv, hs, size, src_dist[s], src_node[s], s)
        while size > 0:
            d, u, _, size = _heap_pop(hk, hv, hs, size)
            if done[u] or d > dist[u]:
                continue
            done[u] = True
            if m == cap:
                cap *= 2
                a = np.empty(cap, np.int64)
                a[:m] = out_s[:m]
                out_s = a
                b = np.empty(cap, np.int64)
                b[:m] = out_v[:m]
                out_v = b
                c = np.empty(cap, np.float64)
                c[:m] = out_d[:m]
                out_d = c
            out_s[m] = s
            out_v[m] = u
            out_d[m] = d
            m += 1
            for j in range(indptr[u], indptr[u + 1]):
                v = indices[j]
                nd = d + w[j]
                if nd <= max_dist and nd < dist[v]:
                    if dist[v] == np.inf:
                        touched[n_t] = v
                        n_t += 1
                    dist[v] = nd
                    hk, hv, hs, size = _heap_push(hk, hv, hs, size, nd, v, s)
        for i in range(n_t):
            dist[touched[i]] = np.inf
            done[touched[i]] = False
    return out_s[:m], out_v[:m], out_d[:m]


def bounded_from_each(indptr: np.ndarray, indices: np.ndarray, w: np.ndarray,
                      src_node: np.ndarray, src_dist: np.ndarray, *, max_dist: float,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (source, node, distance) with distance <= ``max_dist``, searched per source.

    Returns
    -------
    src, node, dist : numpy.ndarray
        Parallel arrays, grouped by source in source order.
    """
    if not np.isfinite(max_dist):
        raise ValueError("bounded_from_each needs a finite max_dist")
    return _bounded_from_each(indptr, indices, np.asarray(w, np.float64),
                              np.asarray(src_node, np.int64),
                              np.asarray(src_dist, np.float64), float(max_dist))
