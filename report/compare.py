"""Two plans side by side: KPIs, shortages that appear, vanish, grow or shrink, stock and capacity; for the
CLI and report.

Runs are named by id or by scenario (the latest successful run of that scenario). Built on the warehouse's
``plan_diff`` table macro and the plan tables, read by :mod:`warehouse.reads` through an open DuckDB
connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from data_contracts.config import ParameterError
from optimization.kpis import AT_CAPACITY
from warehouse.reads import comparison_frames, plan_run_of, run_rows
from warehouse.views import comparable

__all__ = ["Comparison", "compare_runs", "format_comparison", "format_delta", "resolve_run"]

_EPS = 1e-6
#: a change of units late smaller than this is the solver's noise, not a what-if's effect
_WHOLE_UNIT = 1.0


@dataclass(frozen=True)
class Comparison:
    """Run ``b`` against run ``a``: each frame has ``_a``, ``_b`` and ``diff`` (= b − a) columns."""

    run_a: str
    run_b: str
    label_a: str
    label_b: str
    kpis: pl.DataFrame  # kpi, unit, a, b, diff
    # units late (as the run summary counts them), weeks short and the first of them, per product × DC:
    shortages_new: pl.DataFrame  # product_id, site_id, short_b, weeks_b, first_b: short in b, not in a
    shortages_gone: pl.DataFrame  # product_id, site_id, short_a, weeks_a, first_a: short in a, not in b
    stock: pl.DataFrame  # product_id, site_id, stock_a, stock_b, diff (average closing stock), largest first
    capacity: pl.DataFrame  # resource_id, site_id, util_a, util_b, diff, binding_a, binding_b (weeks at capacity)
    #: same horizon and demand source: KPI changes are only computed like with like (else ``diff`` is null)
    comparable: bool = True
    #: resource_id, campaign_a, campaign_b (campaign-run), campaigns_a/_b, changeovers_a/_b,
    #: changeover_hours_a/_b, util_a, util_b: every resource campaign-run in either plan (empty without)
    campaigns: pl.DataFrame | None = None
    #: product_id, site_id, short_a, short_b, diff, first_a, first_b: short in both, by a whole unit late more
    #: or less in b, largest change first (a what-if mostly deepens shortages a plan already has)
    shortages_changed: pl.DataFrame | None = None


def resolve_run(con: duckdb.DuckDBPyConnection, ref: str) -> str:
    """A run id from a run id or a scenario name (its latest successful run)."""
    run_id = plan_run_of(con, ref)
    if run_id is None:
        raise ParameterError(f"{ref!r} is neither a run id nor a scenario with a successful plan")
    return run_id


def _label(run: dict[str, Any] | None, run_id: str) -> str:
    return f"{run['scenario']} ({run_id})" if run else f"no such run ({run_id})"


def _side_by_side(a: pl.DataFrame, b: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    return a.join(b, on=on, how="full", coalesce=True, suffix="_b")


def compare_runs(con: duckdb.DuckDBPyConnection, run_a: str, run_b: str) -> Comparison:
    """Compare plan ``run_b`` with plan ``run_a`` (typically a scenario with its base)."""
    f = comparison_frames(con, run_a, run_b, _EPS, AT_CAPACITY)
    runs = run_rows(con, run_a, run_b)
    like = run_a not in runs or run_b not in runs or comparable(runs[run_a], runs[run_b])
    kpis = f["kpis"] if like else f["kpis"].with_columns(diff=pl.lit(None, pl.Float64))
    short = f["shortages"]
    sa = short.filter(pl.col("run_id") == run_a).drop("run_id")
    sb = short.filter(pl.col("run_id") == run_b).drop("run_id")
    keys = ["product_id", "site_id"]
    a_side = sa.rename({"short": "short_a", "weeks": "weeks_a", "first_week": "first_a"})
    b_side = sb.rename({"short": "short_b", "weeks": "weeks_b", "first_week": "first_b"})
    new = b_side.join(sa, on=keys, how="anti").sort("short_b", descending=True)
    gone = a_side.join(sb, on=keys, how="anti").sort("short_a", descending=True)
    stock = f["stock"].with_columns(
        diff=pl.col("stock_b").fill_null(0) - pl.col("stock_a").fill_null(0)
    ).sort(pl.col("diff").abs(), descending=True)
    cap = f["capacity"]
    capacity = _side_by_side(
        cap.filter(pl.col("run_id") == run_a).drop("run_id").rename({"util": "util_a", "binding": "binding_a"}),
        cap.filter(pl.col("run_id") == run_b).drop("run_id", "site_id").rename(
            {"util": "util_b", "binding": "binding_b"}),
        ["resource_id"],
    ).with_columns(diff=pl.col("util_b") - pl.col("util_a")).select(
        "resource_id", "site_id", "util_a", "util_b", "diff", "binding_a", "binding_b").sort("resource_id")
    def suites(run: str, side: str) -> pl.DataFrame:
        return f["campaigns"].filter(pl.col("run_id") == run).drop("run_id").rename(
            {c: f"{c}_{side}" for c in ("campaign", "campaigns", "changeovers", "changeover_hours")})

    campaigns = (
        suites(run_a, "a").join(suites(run_b, "b"), on="resource_id", how="full", coalesce=True)
        .join(capacity.select("resource_id", "util_a", "util_b"), on="resource_id", how="left")
        .sort("resource_id")
    )
    return Comparison(run_a, run_b, _label(runs.get(run_a), run_a), _label(runs.get(run_b), run_b), kpis, new,
                      gone, stock, capacity, like, campaigns, _changed(a_side, b_side, keys))


def _changed(a: pl.DataFrame, b: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Product × DC pairs short in both plans whose units late differ by a unit or more, largest first."""
    return (
        a.join(b, on=keys, how="inner", validate="1:1")
        .with_columns(diff=pl.col("short_b") - pl.col("short_a"))
        .filter(pl.col("diff").abs() >= _WHOLE_UNIT)
        .select(*keys, "short_a", "short_b", "diff", "first_a", "first_b")
        .sort(pl.col("diff").abs(), *keys, descending=[True, False, False])
    )


def _num(v: float | None, unit: str | None = None) -> str:
    if v is None:
        return "—"
    if unit == "share":
        return f"{v:.1%}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def format_delta(v: float | None, unit: str | None) -> str:
    """A signed change: points for shares, whole numbers from 100, two decimals below."""
    if v is None:
        return "—"
    if unit == "share":
        return f"{v * 100:+.1f} pts"
    return f"{v:+,.0f}" if abs(v) >= 100 else f"{v:+,.2f}"


def _run_as(campaign: bool | None) -> str:
    return "campaigns" if campaign else "freely   "


def format_comparison(c: Comparison, top: int = 10) -> str:
    """The comparison as text for the terminal."""
    lines = [f"A = {c.label_a}", f"B = {c.label_b}", ""]
    lines.append("KPIs (B − A):" if c.comparable else
                 "KPIs (not comparable: the runs differ in horizon or demand source, so no change is shown):")
    for r in c.kpis.filter(~pl.col("kpi").str.starts_with("utilisation_")).iter_rows(named=True):
        diff = format_delta(r["diff"], r["unit"])
        lines.append(f"  {r['kpi']:<20} {_num(r['a'], r['unit']):>16} {_num(r['b'], r['unit']):>16} {diff:>16}")
    lines.append(f"shortages that appear in B ({c.shortages_new.height}; units late, weeks short, from):")
    lines += [f"  {r['product_id']:<12} {r['site_id']:<10} {r['short_b']:>12,.0f} units in {r['weeks_b']} wk "
              f"from {r['first_b']}" for r in c.shortages_new.head(top).iter_rows(named=True)] or ["  none"]
    lines.append(f"shortages that vanish in B ({c.shortages_gone.height}; units late, weeks short, from):")
    lines += [f"  {r['product_id']:<12} {r['site_id']:<10} {r['short_a']:>12,.0f} units in {r['weeks_a']} wk "
              f"from {r['first_a']}" for r in c.shortages_gone.head(top).iter_rows(named=True)] or ["  none"]
    changed = c.shortages_changed if c.shortages_changed is not None else pl.DataFrame()
    lines.append(f"shortages that grow or shrink in B ({changed.height}; units late A → B, first week short "
                 "A → B):")
    lines += [f"  {r['product_id']:<12} {r['site_id']:<10} {r['short_a']:>12,.0f} → {r['short_b']:>12,.0f} "
              f"({r['diff']:+,.0f})  from {r['first_a']} → {r['first_b']}"
              for r in changed.head(top).iter_rows(named=True)] or ["  none"]
    lines.append("capacity (utilisation over the horizon A → B, weeks at capacity):")
    lines += [f"  {r['resource_id']:<12} {_num(r['util_a'], 'share'):>7} → {_num(r['util_b'], 'share'):>7}  "
              f"{r['binding_a'] or 0:>3} → {r['binding_b'] or 0:>3} wk" for r in c.capacity.iter_rows(named=True)]
    if c.campaigns is not None and c.campaigns.height:
        lines.append("campaigns (A → B per campaign resource: campaigns, changeovers, changeover hours, "
                     "utilisation):")
        lines += [f"  {r['resource_id']:<12} {_run_as(r['campaign_a'])} → {_run_as(r['campaign_b'])}  "
                  f"{r['campaigns_a']:>3} → {r['campaigns_b']:>3} campaigns  "
                  f"{r['changeovers_a']:>3} → {r['changeovers_b']:>3} changeovers  "
                  f"{r['changeover_hours_a']:>6,.0f} → {r['changeover_hours_b']:>6,.0f} h  "
                  f"{_num(r['util_a'], 'share'):>7} → {_num(r['util_b'], 'share'):>7}"
                  for r in c.campaigns.iter_rows(named=True)]
    lines.append(f"largest stock changes (average closing stock, top {top}):")
    lines += [f"  {r['product_id']:<12} {r['site_id']:<10} {_num(r['stock_a']):>12} → {_num(r['stock_b']):>12}"
              for r in c.stock.filter(pl.col("diff").abs() > _EPS).head(top).iter_rows(named=True)] or ["  none"]
    return "\n".join(lines)

