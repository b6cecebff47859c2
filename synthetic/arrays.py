"""Small vectorised helpers shared by the generators (group ranks, forward fill)."""

from __future__ import annotations

import numpy as np


def cumcount(group: np.ndarray) -> np.ndarray:
    """Position of each row within its group, in the current row order."""
    order = np.argsort(group, kind="stable")
    g = np.asarray(group)[order]
    starts = np.r_[True, g[1:] != g[:-1]] if g.size else np.zeros(0, bool)
    idx = np.arange(g.size)
    rank = idx - np.maximum.accumulate(np.where(starts, idx, 0)) if g.size else idx
    out = np.empty_like(rank)
    out[order] = rank
    return out


def ffill_index(changed: np.ndarray) -> np.ndarray:
    """For each row, the last row at or before it where `changed` is true."""
    return np.maximum.accumulate(np.where(changed, np.arange(changed.size), 0))


def group_ranges(sorted_keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, count) per group id 0..n_groups-1 of a sorted key array."""
    start = np.searchsorted(sorted_keys, np.arange(n_groups), side="left")
    stop = np.searchsorted(sorted_keys, np.arange(n_groups), side="right")
    return start, stop - start


def pick_in_group(rng: np.random.Generator, start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """A random row index within each group (count must be > 0)."""
    return start + (rng.random(start.size) * count).astype(np.int64)


def rows_of(owner: np.ndarray, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i, row) with owner[row] == who[i], grouped by i, rows in ascending order."""
    order = np.argsort(owner, kind="stable")
    lo = np.searchsorted(owner[order], who, side="left")
    count = np.searchsorted(owner[order], who, side="right") - lo
    i = np.repeat(np.arange(who.size), count)
    offset = np.arange(i.size) - np.repeat(np.cumsum(count) - count, count)
    return i, order[np.repeat(lo, count) + offset]


def flat(arr):
    """One contiguous Arrow array: large inputs make some kernels return chunked results."""
    import pyarrow as pa

    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
