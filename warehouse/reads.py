"""What the report, the run comparison and the run summary read: the queries over a run's stored tables.

``report/`` renders frames and never writes SQL; the queries that pick its rows live here, beside the
tables and views (every DuckDB I/O in ``warehouse/``). Each function takes an open (read-only) connection
and returns polars frames or plain values.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import duckdb
import polars as pl

from data_contracts import schema
from data_contracts.formats import file_name

__all__ = ["booked_orders", "comparison_frames", "cut_off_files", "missing_from_extract", "order_weeks",
           "past_run_warnings",
           "plan_run_of", "previous_plan_run",
           "report_frames", "run_rows", "run_warnings", "thousands_point_words", "thousands_points",
           "thousands_warnings", "twin_frames"]

#: A whole number with a point grouping thousands (``3.240``, ``12.500.000``): under ``decimal: "."`` it reads
#: as 3.24; a first group never starts with 0, so ``0.125`` is not one.
_THOUSANDS_POINT = r"^[+-]?[1-9][0-9]{0,2}([.][0-9]{3})+$"

#: a run that produced a plan (its KPIs are stored)
_HAS_PLAN = f"EXISTS (SELECT 1 FROM {schema.PLAN_KPIS.name} k WHERE k.run_id = r.run_id)"


def _q(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> pl.DataFrame:
    return con.execute(sql, list(params)).pl()


def run_rows(con: duckdb.DuckDBPyConnection, *run_ids: str | None) -> dict[str, dict[str, Any]]:
    """The ``runs`` rows of ``run_ids`` (None and unknown ids are left out), by run id."""
    ids = [r for r in run_ids if r is not None]
    if not ids:
        return {}
    frame = _q(con, f"SELECT * FROM {schema.RUNS.name} WHERE run_id IN ({', '.join('?' * len(ids))})", *ids)
    return {r["run_id"]: r for r in frame.iter_rows(named=True)}


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchone()[0])


def run_warnings(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame:
    """What the run noticed that rejects no row (``run_warnings``: entity, rule, key, reason), by rule and
    key. A warehouse not yet migrated to hold them (a file of an older version opened read-only, as the
    report and the summary open it) gives what its migration will store: :func:`past_run_warnings`."""
    if not _has_table(con, schema.RUN_WARNINGS.name):
        return past_run_warnings(con, run_id).sort("rule", "entity", "key")
    return _q(con, f"SELECT entity, rule, key, reason FROM {schema.RUN_WARNINGS.name} WHERE run_id = ? "
                   "ORDER BY rule, entity, key", run_id)


def booked_orders(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    """What the run's booked orders did to its demand: units booked, units added above the demand the plan
    was given, the product × site × weeks they were added in, the series planned from booked orders alone,
    and what they were added above (``the forecast``, or ``the demand file`` of a consensus replan).

    The units added and their weeks are the plan's (``plan_kpis``' ``booked_units_added`` and
    ``booked_weeks_added``, computed against the demand it planned: a consensus file's quantity where the
    file gives one); a plan stored before those KPIs has them from the forecast stage (``forecast.booked``,
    ``booked_added``), which is right unless it was planned on a demand file. None when the run booked
    nothing or was stored before booked orders were planned (a warehouse not yet migrated, opened read-only,
    has no such columns)."""
    columns = {c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
        [schema.FORECAST.name]).fetchall()}
    if "booked_added" not in columns:
        return None
    units, added, weeks, series = con.execute(
        f"""SELECT sum(booked), sum(booked_added), count(*) FILTER (WHERE booked_added > 0),
                   count(DISTINCT (product_id, site_id)) FILTER (WHERE model = ?)
            FROM {schema.FORECAST.name} WHERE run_id = ?""", [schema.BOOKED_MODEL, run_id]).fetchone()
    if units is None:
        return None
    planned = dict(con.execute(
        f"""SELECT kpi, value FROM {schema.PLAN_KPIS.name}
            WHERE run_id = ? AND kpi IN ('booked_units_added', 'booked_weeks_added')""", [run_id]).fetchall())
    (parameters,) = con.execute(f"SELECT parameters FROM {schema.RUNS.name} WHERE run_id = ?",
                                [run_id]).fetchone() or (None,)
    above = "the demand file" if json.loads(parameters or "{}").get("demand_file") else "the forecast"
    return {"units": units, "added": planned.get("booked_units_added", added),
            "weeks": int(planned.get("booked_weeks_added", weeks)), "series": series, "above": above}


def past_run_warnings(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame:
    """The warnings of a run made before ``run_warnings`` existed that its summary showed then and the
    warehouse's rows still give (``WARNING_SCHEMA``): the thousands-point scan of its input loads under the
    decimal mark of its parameters, and stale data (its clean inventory's latest ``as_of_date`` and its
    demand history's last week with demand, against its run date and ``inactive_weeks``), as the contracts
    and forecast stages store them now. The network's pairs, demand outliers and full extracts missing
    lines were never shown for those runs and are not recomputed."""
    from data_contracts.findings import stale_data_warnings

    inventory = schema.clean_table_name(schema.INVENTORY.name)
    run_date, parameters, load_ids, as_of, last_week = con.execute(
        f"""SELECT r.run_date, r.parameters, r.input_load_ids,
                   (SELECT max(as_of_date) FROM {inventory} i WHERE i.run_id = r.run_id),
                   (SELECT max(week) FROM {schema.DEMAND_HISTORY.name} h
                    WHERE h.run_id = r.run_id AND h.quantity > 0)
            FROM {schema.RUNS.name} r WHERE r.run_id = ?""", [run_id]).fetchone()
    params = json.loads(parameters or "{}")
    decimal = params.get("contracts", {}).get("decimal", ".")
    found = [thousands_warnings(con, json.loads(load_ids or "{}"), decimal)]
    if run_date is not None:
        inactive = params.get("forecast", {}).get("inactive_weeks", 13)
        found.append(stale_data_warnings(as_of, last_week, run_date, inactive))
    return pl.concat(found)


def thousands_points(con: duckdb.DuckDBPyConnection, load_ids: dict[str, str], decimal: str = ".",
                     least: int = 3) -> list[tuple[str, str, str, int]]:
    """Number columns of the raw loads whose every value with a point looks like a thousands-grouped whole
    number (``3.240``), at least ``least`` of them, while numbers are read with ``.`` as decimal point: a
    European export of whole numbers, read 1,000 times too small, that no row-level rule can tell from
    ``3.24`` written with three decimals. ``(entity, column, file, values)`` per such column."""
    if decimal != ".":
        return []
    found = []
    for t in schema.INPUT_ENTITIES:
        columns = [c for c, d in t.columns.items() if d in (pl.Float64, pl.Int64)]
        if t.name not in load_ids or not columns:
            continue
        raw, load = schema.raw_table_name(t.name), [load_ids[t.name]]
        # A grouped value has a point, so "every value with a point is grouped" fails at the first one that is
        # not: found with an early stop (LIMIT 1: usually in the first rows, as in 41.0) instead of matching
        # the pattern on every value. Only the columns with none are counted.
        firsts = " UNION ALL ".join(
            f"(SELECT {i} FROM {raw} WHERE {schema.LOAD_ID} = ? AND contains(\"{c}\", '.') AND NOT "
            f"regexp_full_match(trim(\"{c}\"), '{_THOUSANDS_POINT}') LIMIT 1)" for i, c in enumerate(columns))
        ungrouped = {i for (i,) in con.execute(firsts, load * len(columns)).fetchall()}
        left = [c for i, c in enumerate(columns) if i not in ungrouped]
        if not left:
            continue
        counts = ", ".join(f"count(*) FILTER (WHERE contains(\"{c}\", '.'))" for c in left)  # every one grouped
        row = con.execute(f"SELECT {counts}, any_value({schema.SOURCE_FILE}) FROM {raw} WHERE {schema.LOAD_ID} = ?",
                          load).fetchone()
        found += [(t.name, c, str(row[-1]), n) for c, n in zip(left, row[:-1], strict=True) if n >= least]
    return found


def thousands_point_words(file: str, column: str, values: int) -> str:
    """The warning of :func:`thousands_points` for one column."""
    return (f"{file_name(file)}: every one of the {values:,} {column} values with a point looks like thousands grouped by "
            f"a point (3.240 for 3240), and is read with \".\" as decimal point (3.24): if the source groups "
            f"thousands so, declare decimal: \",\" in its source config (rule: thousands_point)")


def order_weeks(wh: Any, load_id: str) -> pl.DataFrame:
    """The raw order lines of the load ``load_id`` summed per product, site and requested week (``product_id,
    site_id, week, quantity``; lines whose week or quantity does not read dropped): what ``validate`` judges
    monthly figures on (:func:`data_contracts.findings.period_bucket_warnings`; a run judges its weekly
    history), summed in DuckDB (the typed columns where the warehouse stores them so, :meth:`typed_raw`),
    not read into polars line by line."""
    entity = schema.ORDERS.name
    typed = wh.typed_raw(entity)
    table = schema.stored_raw_table_name(entity) if typed else schema.raw_table_name(entity)

    def read(column: str, kind: str) -> str:
        return f'"{column}"' if column in typed else f'TRY_CAST("{column}" AS {kind})'

    return _q(wh.con, f"""SELECT product_id, site_id, {read("requested_week", "DATE")} AS week,
                                 sum({read("quantity", "DOUBLE")}) AS quantity
                          FROM {table} WHERE {schema.LOAD_ID} = ? GROUP BY ALL HAVING week IS NOT NULL""", load_id)


def thousands_warnings(con: duckdb.DuckDBPyConnection, load_ids: dict[str, str], decimal: str = ".") -> pl.DataFrame:
    """:func:`thousands_points` as warning rows (``WARNING_SCHEMA``: entity, rule ``thousands_point``, the
    column as key, the words): what the contracts stage stores in ``run_warnings`` and ``validate`` prints."""
    from data_contracts.config import WARNING_SCHEMA

    rows = [(entity, "thousands_point", column, thousands_point_words(file, column, n))
            for entity, column, file, n in thousands_points(con, load_ids, decimal)]
    return pl.DataFrame(rows, schema=WARNING_SCHEMA, orient="row")


def missing_from_extract(con: duckdb.DuckDBPyConnection, entity: str, load_id: str,
                         least_share: float = 0.9) -> pl.DataFrame:
    """A warning (``WARNING_SCHEMA``, rule ``missing_from_extract``) when the incremental load ``load_id`` of an
    event entity (orders, batches) repeats at least ``least_share`` of the previous load's keys, as a full
    extract would, yet lacks some: in incremental mode those lines still count with their last version, which
    is right for a delta and silently wrong for a full extract that dropped them. Empty otherwise."""
    from data_contracts.config import WARNING_SCHEMA

    key = schema.table(entity).key[0]
    raw, loads = schema.raw_table_name(entity), schema.LOADS.name
    previous = con.execute(
        f"""SELECT l.load_id, l.source FROM {loads} l WHERE l.entity = ?
            AND l.loaded_at < (SELECT loaded_at FROM {loads} WHERE load_id = ?)
            ORDER BY l.loaded_at DESC LIMIT 1""", [entity, load_id]).fetchone()
    if previous is None:  # the first load: nothing to miss, and no key read
        return pl.DataFrame(schema=WARNING_SCHEMA)
    row = con.execute(
        f"""WITH old AS (SELECT DISTINCT "{key}" AS k FROM {raw}
                         WHERE {schema.LOAD_ID} = ? AND "{key}" IS NOT NULL),
                 new AS (SELECT DISTINCT "{key}" AS k FROM {raw} WHERE {schema.LOAD_ID} = ?)
            SELECT (SELECT count(*) FROM old), (SELECT count(*) FROM old SEMI JOIN new USING (k)),
                   (SELECT any_value({schema.SOURCE_FILE}) FROM {raw} WHERE {schema.LOAD_ID} = ?)""",
        [previous[0], load_id, load_id]).fetchone()
    (old, kept, source), before = row, previous[1]
    gone = old - kept
    if not old or not gone or kept < least_share * old:
        return pl.DataFrame(schema=WARNING_SCHEMA)
    reason = (f"{file_name(source)}: {gone:,} of the {old:,} {key} values of the previous load ({before}) are not in this one, "
              f"which repeats {kept / old:.1%} of them as a full extract would: in incremental mode (the default) "
              f"a line never disappears, so those {gone:,} still count with their last version; if every load is "
              f"the whole {entity} book, declare {entity}: {{mode: snapshot}} in a source config"
              + ("; to cancel a line, send it with status cancelled" if entity == schema.ORDERS.name else "")
              + " (rule: missing_from_extract)")
    return pl.DataFrame([(entity, "missing_from_extract", key, reason)], schema=WARNING_SCHEMA, orient="row")


def cut_off_files(con: duckdb.DuckDBPyConnection, load_ids: dict[str, str]) -> pl.DataFrame:
    """A warning (``WARNING_SCHEMA``, rule ``cut_off_file``, key the file's name) for each of the loads
    ``load_ids`` whose CSV file ended mid-line (``loads.cut_off``, found by the ingest's scan): its last row
    goes to quarantine for its missing cells as any bad row, but only this says the rest never arrived."""
    from data_contracts.config import WARNING_SCHEMA

    rows = con.execute(
        f"""SELECT entity, source, row_count FROM {schema.LOADS.name}
            WHERE load_id IN (SELECT unnest(?)) AND cut_off ORDER BY entity""",
        [list(load_ids.values())]).fetchall()
    return pl.DataFrame(
        [(entity, "cut_off_file", file_name(source),
          f"{file_name(source)}: the file ends mid-line at row {rows:,}: the export may have been cut off; "
          "re-export it (rule: cut_off_file)") for entity, source, rows in rows],
        schema=WARNING_SCHEMA, orient="row")


def previous_plan_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any]) -> str | None:
    """The latest successful run with a plan of ``run``'s scenario started before it (a ``runs`` row)."""
    row = con.execute(
        f"""SELECT run_id FROM {schema.RUNS.name} r
            WHERE status = 'success' AND scenario = ? AND started_at < ? AND {_HAS_PLAN}
            ORDER BY started_at DESC LIMIT 1""",
        [run["scenario"], run["started_at"]],
    ).fetchone()
    return row[0] if row else None


def plan_run_of(con: duckdb.DuckDBPyConnection, ref: str) -> str | None:
    """``ref`` if it is a run id, else the latest successful run with a plan of scenario ``ref``; None if
    neither."""
    row = con.execute(f"SELECT run_id FROM {schema.RUNS.name} WHERE run_id = ?", [ref]).fetchone()
    if row is None:
        row = con.execute(
            f"SELECT run_id FROM {schema.RUNS.name} r "
            f"WHERE scenario = ? AND status = 'success' AND {_HAS_PLAN} ORDER BY started_at DESC LIMIT 1",
            [ref],
        ).fetchone()
    return row[0] if row else None


def report_frames(
    con: duckdb.DuckDBPyConnection, run_id: str, previous: str | None, history_from: date
) -> dict[str, pl.DataFrame]:
    """A run's plan tables as its report shows them: ``kpis`` (beside ``previous``'s values), ``products``,
    ``sites``, ``history`` (from week ``history_from``), ``forecast``, ``inventory`` (with backlog),
    ``capacity``, ``shortages`` (largest first), ``expiry``, ``campaigns`` and ``warnings`` (what the run
    noticed that rejects no row: ``run_warnings``)."""
    k = schema.PLAN_KPIS.name
    return {
        "kpis": _q(con, f"""SELECT k.kpi, k.value, k.unit, p.value AS previous FROM {k} k
                            LEFT JOIN (SELECT kpi, value FROM {k} WHERE run_id = ?) p USING (kpi)
                            WHERE k.run_id = ?""", previous, run_id),
        "products": _q(con, f"SELECT product_id, name, family FROM {schema.clean_table_name('products')} "
                            "WHERE run_id = ? ORDER BY product_id", run_id),
        "sites": _q(con, f"SELECT site_id, name, site_type FROM {schema.clean_table_name('sites')} "
                         "WHERE run_id = ? ORDER BY site_type DESC, site_id", run_id),
        "history": _q(con, f"SELECT product_id, site_id, week, quantity FROM {schema.DEMAND_HISTORY.name} "
                           "WHERE run_id = ? AND week >= ?", run_id, history_from),
        "forecast": _q(con, f"SELECT product_id, site_id, week, model, mean, q05, q20, q80, q95 "
                            f"FROM {schema.FORECAST.name} WHERE run_id = ?", run_id),
        "inventory": _q(con, f"""SELECT i.product_id, i.site_id, i.week, i.closing, i.safety_stock, b.backlog
                                 FROM {schema.PLAN_INVENTORY.name} i LEFT JOIN {schema.PLAN_BACKLOG.name} b
                                 USING (run_id, product_id, site_id, week) WHERE i.run_id = ?""", run_id),
        "capacity": _q(con, f"SELECT * EXCLUDE (run_id) FROM {schema.PLAN_CAPACITY.name} WHERE run_id = ?",
                       run_id),
        "shortages": _q(con, f"SELECT * EXCLUDE (run_id) FROM {schema.PLAN_SHORTAGES.name} WHERE run_id = ? "
                             "ORDER BY short_quantity DESC, product_id, site_id, week", run_id),
        "expiry": _q(con, f"SELECT * EXCLUDE (run_id) FROM {schema.PLAN_EXPIRY.name} WHERE run_id = ? "
                          "ORDER BY week, product_id, site_id", run_id),
        "campaigns": _q(con, f"SELECT * EXCLUDE (run_id) FROM {schema.PLAN_CAMPAIGNS.name} WHERE run_id = ? "
                             "ORDER BY resource_id, first_week", run_id),
        "warnings": run_warnings(con, run_id),
    }


def twin_frames(
    con: duckdb.DuckDBPyConnection, run_id: str, other: str | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The latest twin replay of the run (and of ``other``, its comparison), if any was made: the summary
    rows (the run's first) and the run's closing-stock fan."""
    summary_t, fan_t = schema.TWIN_SUMMARY, schema.TWIN_STOCK_FAN
    if not _has_table(con, summary_t.name):
        return summary_t.empty(), fan_t.empty()
    latest = f"""(SELECT twin_id FROM {summary_t.name} WHERE run_id = ? ORDER BY created_at DESC LIMIT 1)"""
    twin = _q(con, f"""SELECT * FROM {summary_t.name} WHERE (run_id = ? AND twin_id = {latest})
                       OR (run_id = ? AND twin_id = {latest}) ORDER BY run_id = ? DESC, metric""",
              run_id, run_id, other, other, run_id)
    fan = _q(con, f"""SELECT product_id, site_id, week, p05, p25, p50, p75, p95 FROM {fan_t.name}
                      WHERE run_id = ? AND twin_id = {latest}""", run_id, run_id)
    return twin, fan


def comparison_frames(
    con: duckdb.DuckDBPyConnection, run_a: str, run_b: str, min_short: float, at_capacity: float
) -> dict[str, pl.DataFrame]:
    """Two runs' tables side by side: ``kpis`` (kpi, unit, a, b, diff), ``shortages`` (per run, product and
    site short by more than ``min_short`` in a week: units late, weeks short, the first of them), ``stock``
    (average closing stock of each, the ``plan_diff`` macro), ``capacity`` (per run and resource: utilisation,
    weeks at ``at_capacity`` or more) and ``campaigns`` (per run and resource campaign-run in either run: whether
    it is, campaigns, changeovers, changeover hours)."""
    k, s, c = schema.PLAN_KPIS.name, schema.PLAN_SHORTAGES.name, schema.PLAN_CAPACITY.name
    res, camp = schema.clean_table_name(schema.RESOURCES.name), schema.PLAN_CAMPAIGNS.name
    return {
        "campaigns": _q(con, f"""WITH runs AS (SELECT unnest([?, ?]) AS run_id),
                                      suites AS (SELECT DISTINCT resource_id FROM {res}
                                                 WHERE run_id IN (?, ?) AND campaign),
                                      planned AS (SELECT run_id, resource_id, count(*) AS campaigns,
                                                         -- a changeover as the KPI counts it
                                                         -- (optimization.campaign_results.is_changeover)
                                                         count(*) FILTER (WHERE changeover_hours > 0
                                                             OR changeover_cost > 0
                                                             OR from_product_id IS NOT NULL) AS changeovers,
                                                         sum(changeover_hours) AS changeover_hours
                                                  FROM {camp} WHERE run_id IN (?, ?) GROUP BY ALL)
                                 SELECT runs.run_id, suites.resource_id, coalesce(r.campaign, false) AS campaign,
                                        coalesce(p.campaigns, 0) AS campaigns,
                                        coalesce(p.changeovers, 0) AS changeovers,
                                        coalesce(p.changeover_hours, 0) AS changeover_hours
                                 FROM runs CROSS JOIN suites
                                 LEFT JOIN {res} r USING (run_id, resource_id)
                                 LEFT JOIN planned p USING (run_id, resource_id)
                                 ORDER BY suites.resource_id, runs.run_id""",
                        run_a, run_b, run_a, run_b, run_a, run_b),
        "kpis": _q(con, f"""SELECT coalesce(a.kpi, b.kpi) AS kpi, coalesce(a.unit, b.unit) AS unit,
                                   a.value AS a, b.value AS b, b.value - a.value AS diff
                            FROM (SELECT * FROM {k} WHERE run_id = ?) a
                            FULL JOIN (SELECT * FROM {k} WHERE run_id = ?) b USING (kpi) ORDER BY kpi""",
                   run_a, run_b),
        # units late as the run summary counts them (a unit waiting three weeks is one unit, not three;
        # a plan stored before late_units counted each week's backlog) and the first week short
        "shortages": _q(con, "SELECT run_id, product_id, site_id, "
                             "sum(coalesce(late_units, short_quantity)) AS short, count(*) AS weeks, "
                             f"min(week) AS first_week FROM {s} WHERE run_id IN (?, ?) AND short_quantity > ? "
                             "GROUP BY ALL",
                        run_a, run_b, min_short),
        "stock": _q(con, "SELECT product_id, site_id, avg(stock_a) AS stock_a, avg(stock_b) AS stock_b "
                         "FROM plan_diff(?, ?) GROUP BY ALL", run_a, run_b),
        "capacity": _q(con, f"""SELECT run_id, resource_id, site_id,
                                       sum(hours_used) / nullif(sum(hours_available), 0) AS util,
                                       count(*) FILTER (WHERE utilisation >= ?) AS binding
                                FROM {c} WHERE run_id IN (?, ?) GROUP BY ALL""", at_capacity, run_a, run_b),
    }
