"""Seeded synthetic weekly demand series of known kinds, for tests and benchmarks (no I/O)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

__all__ = ["synthetic_series", "KINDS"]

KINDS = ("seasonal", "smooth", "intermittent", "lumpy", "trend", "new", "inactive")


def _one(kind: str, weeks: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(weeks)
    level = rng.uniform(50, 500)
    if kind == "seasonal":
        season = 0.3 * level * np.sin(2 * np.pi * t / 52 + rng.uniform(0, 2 * np.pi))
        y = level + season + rng.normal(0, 0.08 * level, weeks)
    elif kind == "smooth":
        y = level + rng.normal(0, 0.15 * level, weeks)
    elif kind == "trend":
        y = level * (1 + 0.004 * t) + rng.normal(0, 0.1 * level, weeks)
    elif kind == "intermittent":
        y = (rng.random(weeks) < 0.3) * np.round(rng.gamma(20.0, level / 200, weeks))
    elif kind == "lumpy":
        y = (rng.random(weeks) < 0.25) * np.round(rng.gamma(1.0, level / 10, weeks))
    elif kind == "new":
        y = level + rng.normal(0, 0.15 * level, weeks)
    elif kind == "inactive":
        y = level + rng.normal(0, 0.15 * level, weeks)
        y[-rng.integers(14, 30):] = 0.0
    else:
        raise ValueError(f"unknown kind {kind!r}; known: {KINDS}")
    y = np.maximum(y, 0.0)
    if kind in ("intermittent", "lumpy"):
        y[0] = max(y[0], 1.0)  # a series' life starts with its first demand
    return y


def synthetic_series(
    n: int = 200,
    weeks: int = 156,
    seed: int = 0,
    kinds: tuple[str, ...] = ("seasonal", "smooth", "intermittent", "lumpy", "trend"),
    end: date = date(2026, 11, 23),
    new_weeks: int = 8,
) -> pl.DataFrame:
    """``n`` series (``unique_id, ds, y``) cycling through ``kinds``, ending the Monday ``end``.

    ``new`` series have ``new_weeks`` weeks, every other kind ``weeks``.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        length = new_weeks if kind == "new" else weeks
        frames.append(pl.DataFrame({
            "unique_id": f"{kind}_{i:05d}",
            "ds": pl.date_range(end - timedelta(weeks=length - 1), end, "1w", eager=True),
            "y": _one(kind, length, rng),
        }))
    return pl.concat(frames)
