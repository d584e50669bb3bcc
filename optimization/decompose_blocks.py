"""The blocks of a model's matrix: which columns form each block, the order it is built in, its key.

:func:`block_labels` links columns through every non-coupling row they share (connected components of the
column groups); :func:`sort_order` is the stable order a block's columns, rows and non-zeros are built in; and
:func:`_block_key` the digest of a block's products and matrix pattern that a stored basis is filed under.
Run by :func:`optimization.decompose.solve_blocks`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

__all__ = ["block_labels", "sort_order"]


def block_labels(col_group: np.ndarray, entries: pl.DataFrame, coupling: np.ndarray) -> np.ndarray:
    """Block of each column: connected components of column groups linked by shared non-coupling rows.

    Args:
        col_group: integer group of each column (its product), ``0 .. G-1``.
        entries: ``row, col`` of the matrix's non-zeros.
        coupling: boolean per row, True for the rows left out of the linking.

    Returns:
        Block number per column, ``0 .. B-1``, numbered by first appearance of its smallest group.
    """
    n_groups = int(col_group.max()) + 1 if len(col_group) else 0
    row = entries["row"].to_numpy()
    grp = col_group[entries["col"].to_numpy()]
    keep = ~coupling[row]
    row, grp = row[keep], grp[keep]
    first = np.full(len(coupling), n_groups, dtype=np.int64)
    np.minimum.at(first, row, grp)  # smallest group in each row: every group of the row links to it
    a, b = first[row], grp
    linked = a != b
    # each linked pair once: a capacity row links the same groups in every week
    pairs = np.unique(a[linked] * n_groups + b[linked])
    a, b = pairs // max(n_groups, 1), pairs % max(n_groups, 1)
    label = np.arange(n_groups, dtype=np.int64)
    while True:  # label propagation with pointer jumping: each group takes the smallest label it touches
        new = label.copy()
        np.minimum.at(new, a, label[b])
        np.minimum.at(new, b, label[a])
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    roots = label[col_group]  # each block's smallest group, ranked: np.unique's inverse without its sort
    present = np.zeros(n_groups, dtype=bool)
    present[roots] = True
    return (np.cumsum(present) - 1)[roots]


def sort_order(*keys: np.ndarray) -> np.ndarray:
    """The stable order of rows by ``keys`` (non-negative integers, most significant first): ``np.lexsort``'s
    order, found by one stable sort of the keys packed into one integer where they fit in 62 bits (a block's
    non-zeros by block, row and column: one sort of 6 M keys instead of three, ≈ 0.6 of the big network's
    CPU-s; docs/big-network.md, stop 32)."""
    packed, span = np.zeros(len(keys[0]), dtype=np.int64), 1
    for key in reversed(keys):
        packed += key.astype(np.int64) * span
        span *= int(key.max()) + 1 if len(key) else 1
        if span >= 2**62:
            return np.lexsort(keys[::-1])
    return np.argsort(packed, kind="stable")


def _block_key(
    groups: np.ndarray,
    names: list[str] | None,
    rows: np.ndarray,
    cols: np.ndarray,
    n_cols: int,
    n_rows: int,
) -> str:
    """Digest of a block's products (by name) and its matrix pattern: equal keys, same columns and rows."""
    digest = hashlib.sha1()
    members = np.unique(groups)
    text = "\n".join(sorted(names[g] for g in members.tolist())) if names is not None else members.tobytes()
    digest.update(text.encode() if isinstance(text, str) else text)
    digest.update(np.array([n_cols, n_rows], dtype=np.int64).tobytes())
    digest.update(rows.astype(np.int32).tobytes())
    digest.update(cols.astype(np.int32).tobytes())
    return digest.hexdigest()[:20]
