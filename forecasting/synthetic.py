"""Seeded synthetic weekly demand series of known kinds, for tests and benchmarks (no I/O)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

__all__ = ["synthetic_series", "odd_series", "KINDS", "ODD_SHAPES"]

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


ODD_SHAPES = ("constant", "one_sale", "step", "spike", "huge", "tiny", "to_zero", "growth", "empty_periods",
              "negative_some")


def odd_series(periods: int, season: int, freq: str = "1mo", start: date = date(1990, 1, 1)) -> pl.DataFrame:
    """Ten odd but valid series (``unique_id, ds, y``, one of each of :data:`ODD_SHAPES`), ``periods`` long
    from ``start`` at ``freq`` ('1mo', '3mo', '1w'; 1990-01-01 is a Monday): what a held-out set may hold and
    no visible one does. Constant; one sale in the last period; a ×100 step halfway; a one-off spike 100
    times a steady level five periods before the end; 1e9 and 1e-3 scales; a straight decline to 0.001;
    5% growth a period; a season whose first third is empty; values around 10 with a spread of 20 (some
    negative). Every seasonal one swings ±30% over ``season`` periods. Seeded (the same series every call)."""
    rng = np.random.default_rng(3)
    t = np.arange(periods)
    wave = 1 + 0.3 * np.sin(2 * np.pi * t / season)
    values = {
        "constant": np.full(periods, 100.0),
        "one_sale": np.r_[np.zeros(periods - 1), 5.0],
        "step": np.r_[np.full(periods // 2, 10.0), np.full(periods - periods // 2, 1000.0)] * wave,
        "spike": np.r_[50 + rng.standard_normal(periods - 5), 5000.0, np.full(4, 50.0)],
        "huge": 1e9 * wave * (1 + 0.05 * rng.standard_normal(periods)),
        "tiny": 1e-3 * wave * (1 + 0.05 * rng.standard_normal(periods)),
        "to_zero": np.maximum(0.0, 100 - 100 * t / (periods - 1)) + 0.001,
        "growth": 10 * 1.05 ** t * wave,
        "empty_periods": np.where(t % season < season // 3, 0.0, 100 * wave + rng.standard_normal(periods)),
        "negative_some": 10 + 20 * rng.standard_normal(periods),
    }
    ds = pl.date_range(start, date(2200, 1, 1), freq, eager=True)[:periods]
    return pl.concat([pl.DataFrame({"unique_id": k, "ds": ds, "y": values[k]}) for k in ODD_SHAPES])
