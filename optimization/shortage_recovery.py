"""The recovery advice of a shortage a full resource explains: how many extra hours would make the units
short, in which weeks they fit, and what an hour there is worth.

The extra hours are ``short × hours_per_unit / yield`` on the named (dearest) bottleneck week. A week cannot
hold more than ``WEEK_HOURS`` (a machine runs at most 168 hours, however many shifts are added), so hours the
named week cannot hold go to the other weeks that could still serve the shortage in time
(:func:`spread_hours`), or the advice says hours alone cannot recover it. At a full resource the dual of an
hour is not unique: at the bottlenecks named for the most units (at most ``MAX_RANGES``) the objective is
re-solved with one hour less and one hour more (:func:`price_ranges`), elsewhere the dual alone is quoted.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from optimization.shortage_rows import PST
from optimization.shortage_text import iso_week, number

__all__ = ["MAX_RANGES", "WEEK_HOURS", "price_ranges", "recovery_advice", "spread_hours"]

#: most bottleneck resource-weeks whose hour is re-solved from both sides (the rest keep the dual)
MAX_RANGES = 40
#: hours in a week: a machine cannot run longer, however many shifts are added. A resource planned for more
#: hours than this in a week is several machines, whose week's limit the inputs do not give
WEEK_HOURS = 168.0


def price_ranges(frame: pl.DataFrame,
                 price_range: Callable[[pl.DataFrame], pl.DataFrame] | None) -> pl.DataFrame:
    """The worth of one hour more and one hour less at the bottlenecks named for the most units.

    Args:
        frame: the shortages with their named bottleneck (``resource_id, bind_t, short``; null: none).
        price_range: given ``resource_id, t``, returns ``resource_id, t, price_low, price_high``; None: no
            range (the detail quotes the dual).

    Returns:
        ``resource_id, bind_t, price_low, price_high`` (empty without ``price_range``).
    """
    ranges = pl.DataFrame(schema={"resource_id": pl.String, "bind_t": pl.Int64, "price_low": pl.Float64,
                                  "price_high": pl.Float64})
    # the bottlenecks named for the most units, at most MAX_RANGES of them (each costs two warm re-solves)
    named = (
        frame.filter(pl.col("resource_id").is_not_null())
        .group_by("resource_id", pl.col("bind_t").alias("t"))
        .agg(pl.col("short").sum())
        .sort("short", "resource_id", "t", descending=[True, False, False])
        .head(MAX_RANGES)
        .select("resource_id", "t")
    )
    if price_range is not None and named.height:
        ranges = price_range(named).rename({"t": "bind_t"}).select(ranges.columns)
    return ranges


def spread_hours(frame: pl.DataFrame, capacity: pl.DataFrame) -> pl.DataFrame:
    """Where the extra hours a shortage needs fit, so the advice never asks a week for more than it holds.

    The named (dearest) bottleneck week first, then the other start weeks that could still serve the
    shortage in time (its window ``[lo, hi]``: lead time and shelf life), latest first (the least stock
    held), each up to what the week can still hold beside its planned hours (``WEEK_HOURS −
    hours_available``; a week shut down, with no hours, stays shut). The estimate stays linear: an hour
    makes as many units in any of those weeks. A window with a week of more than ``WEEK_HOURS`` hours is
    several machines, whose limit the inputs do not give: not capped (``room`` null).

    Args:
        frame: ``PST, resource_id, bind_t, lo, hi, extra_hours`` (rows without a resource are left out).
        capacity: ``resource_id, t, week, hours_available``.

    Returns:
        ``PST``, ``bind_room`` (hours the named week can still hold), ``room`` (hours the whole window can
        still hold; null: not capped), ``spread`` (``+44.0 in 2026-W19, +39.0 in 2026-W18``: the hours by
        week, in that order) and ``window`` (``2026-W05–2026-W19``).
    """
    weeks = (
        frame.filter(pl.col("resource_id").is_not_null() & (pl.col("extra_hours") > 0))
        .select(*PST, "resource_id", "bind_t", "extra_hours", "lo", "hi",
                w=pl.int_ranges("lo", pl.col("hi") + 1))
        .explode("w")
        .join(capacity.select("resource_id", pl.col("t").alias("w"), "week", "hours_available"),
              on=["resource_id", "w"], validate="m:1")
        .with_columns(
            room=pl.when(pl.col("hours_available") > 0)
            .then((WEEK_HOURS - pl.col("hours_available")).clip(lower_bound=0.0)).otherwise(0.0),
            first=pl.col("w") == pl.col("bind_t"),
        )
        .sort(*PST, "first", "w", descending=[False, False, False, True, True])
        .with_columns(before=pl.col("room").cum_sum().over(PST) - pl.col("room"))
        .with_columns(hours=pl.min_horizontal("room", pl.col("extra_hours") - pl.col("before"))
                      .clip(lower_bound=0.0))
    )
    part = pl.concat_str(pl.lit("+"), number("hours", 1), pl.lit(" in "), iso_week("week"))
    return weeks.group_by(PST, maintain_order=True).agg(
        bind_room=pl.col("room").filter("first").first(),
        room=pl.when((pl.col("hours_available") <= WEEK_HOURS).all()).then(pl.col("room").sum()),
        spread=part.filter(pl.col("hours") > 0.05).str.join(", "),
        window=pl.concat_str(iso_week("week").min(), pl.lit("–"), iso_week("week").max()),
    )


def recovery_advice() -> pl.Expr:
    """``+44.0 hours on US-FL01 in 2026-W19 recovers 17,730 units; an hour there is worth …``: the named week
    where it holds the extra hours (or its resource is several machines, whose limit is not known), else the
    hours spread over the weeks in time (:func:`spread_hours`), else that hours alone cannot recover it."""
    hours_on = pl.concat_str(pl.lit("+"), number("extra_hours", 1), pl.lit(" hours on "),
                             pl.col("resource_id"))
    in_bind = pl.concat_str(pl.lit("in "), iso_week("bind_week"))
    return (
        # the week named can hold them (or its resource is several machines, whose limit is not known)
        pl.when(pl.col("room").is_null() | (pl.col("extra_hours") <= pl.col("bind_room") + 0.05))
        .then(pl.concat_str(hours_on, pl.lit(" "), in_bind, pl.lit(" recovers "), number("short"),
                            pl.lit(" units; "), _worth(pl.lit("there"))))
        .when(pl.col("extra_hours") <= pl.col("room") + 0.05)
        .then(pl.concat_str(
            hours_on, pl.lit(" recover "), number("short"), pl.lit(" units, more than "),
            iso_week("bind_week"), pl.lit(" can still hold (+"), number("bind_room", 1),
            pl.lit(f" of a week's {WEEK_HOURS:.0f}): "), pl.col("spread"), pl.lit("; "), _worth(in_bind)))
        .otherwise(pl.concat_str(
            hours_on, pl.lit(" would recover "), number("short"),
            pl.lit(" units, but the weeks that could still serve it in time ("), pl.col("window"),
            pl.lit(") hold only +"), number("room", 1),
            pl.lit(f" more (a week has {WEEK_HOURS:.0f} hours): hours alone cannot recover it; "),
            _worth(in_bind)))
    )


def _worth(where: pl.Expr) -> pl.Expr:
    """``an hour <where> is worth …``: the re-solved range where measured, else the dual."""
    measured = pl.col("price_low").is_not_null()
    value = (
        pl.when(measured & ((pl.col("price_high") - pl.col("price_low")).abs() > 0.005))
        .then(pl.concat_str(number("price_low", 2), pl.lit("–"), number("price_high", 2),
                            pl.lit(" (one hour more / one hour less)")))
        .when(measured & pl.col("price_high").is_null())
        .then(pl.concat_str(number("price_low", 2), pl.lit(" (one hour more)")))
        .when(measured)
        .then(number("price_low", 2))
        .otherwise(pl.concat_str(number("bind_price", 2), pl.lit(" (dual)")))
    )
    return pl.concat_str(pl.lit("an hour "), where, pl.lit(" is worth "), value)
