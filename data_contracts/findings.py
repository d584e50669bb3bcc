"""What a run notices in its data that no row-level contract rejects: warning rows (``schema.RUN_WARNINGS``)
stored with the run's other warnings and shown by its summary and report. Pure: the caller passes the data.

* ``stale_data``: a ``--run-date`` given years after the extract plans from an old stock, and a series silent
  for ``inactive_weeks`` is forecast as zero.
* ``demand_outlier``: a week of a series whose demand is a hundred times its usual week (a quantity typed
  with extra digits, or in units where the series counts packs): every row passes, and the forecast and the
  plan follow it unless the forecast finds it a one-off (``demand_one_off``, below: not in its last three
  weeks nor in intermittent demand).
* ``demand_one_off``: a week the forecast fitted at its local level instead of what was ordered
  (:mod:`forecasting.outliers`: at least 2.5 times that level, alone or with one neighbour, before the last
  three weeks): a tender or a stockpile that will not come again, or one that will and belongs in the booked
  orders or a consensus demand file.
* ``period_buckets``: series whose demand falls only in the week holding the 1st of a month: monthly or
  quarterly figures written as orders on one date of their period and read as weekly demand, with empty
  weeks between (M1, PBS): the forecast sees lumpy demand and no season, a quarterly series goes silent for
  longer than ``inactive_weeks`` and is forecast as zero, and nothing else says why.
* ``component_demand``: orders for an item its bill of materials consumes (a drug substance, a filled bulk):
  planned as demand of its own beside what its parents consume, which is right for a substance sold as such
  and wrong for internal transfers entered as orders.
* ``short_backtest``: a demand history too short to backtest any series over the plan's horizon (a network
  with under a year of history at a 26-week horizon): the forecast's bands are calibrated on the longest
  backtest the history allows and its later weeks extrapolate its errors' growth, or, where no series could
  be backtested at all, every band is the wide lognormal guess. Safety stock stands on those bands.
* ``continuous_campaign``: a routing on a campaign-run resource with neither ``batch_size`` nor ``min_batch``:
  planned continuously (any quantity a week) where a campaign suite makes whole batches. A ``min_batch``
  alone says the process is continuous on purpose (a perfusion train with a minimum run), so it is quiet.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from data_contracts import schema
from data_contracts.config import WARNING_SCHEMA
from data_contracts.formats import RESAMPLE_TO_WEEKS

__all__ = ["COMPONENT_DEMAND", "CONTINUOUS_CAMPAIGN", "DEMAND_ONE_OFF", "DEMAND_OUTLIER", "OUTLIER_RATIO",
           "PERIOD_BUCKETS", "SHORT_BACKTEST", "STALE_DATA", "component_demand_warnings",
           "continuous_campaign_warnings", "demand_one_off_warnings", "demand_outlier_warnings",
           "period_bucket_warnings", "short_backtest_warnings", "stale_data_warnings"]

#: the rules' names in ``run_warnings``
STALE_DATA = "stale_data"
DEMAND_OUTLIER = "demand_outlier"
DEMAND_ONE_OFF = "demand_one_off"
COMPONENT_DEMAND = "component_demand"
CONTINUOUS_CAMPAIGN = "continuous_campaign"
PERIOD_BUCKETS = "period_buckets"
SHORT_BACKTEST = "short_backtest"
#: a week this many times its series' median week with demand is warned of
OUTLIER_RATIO = 100.0
#: series with fewer weeks with demand are not judged (too little to know what is usual)
_OUTLIER_MIN_WEEKS = 8
#: and this many times every week of its series more than ``_OUTLIER_NEAR_WEEKS`` away: a recurring peak is
#: the series' own
_OUTLIER_OVER_NEXT = 10.0
_OUTLIER_NEAR_WEEKS = 4
#: series with fewer weeks with demand are not judged: weekly demand lands in a week holding a 1st about one
#: week in four, so six such weeks in a row by chance happen about once in 7,000 series
_BUCKET_MIN_WEEKS = 6


def stale_data_warnings(as_of: date | None, last_week: date | None, run_date: date,
                        inactive_weeks: int = 13) -> pl.DataFrame:
    """The warnings (``WARNING_SCHEMA``) where the latest inventory snapshot ``as_of`` lies more than a week
    before ``run_date``, and where the last week with demand ``last_week`` lies more than ``inactive_weeks``
    + 1 weeks before it (None: no such rows, nothing to say)."""
    rows = []
    if as_of is not None and (run_date - as_of).days > 7:
        rows.append((schema.INVENTORY.name, STALE_DATA, "as_of_date",
                     f"the inventory snapshot is of {as_of}, {(run_date - as_of).days // 7} weeks before the run "
                     f"date {run_date}: the plan starts from that stock (check --run-date or the inventory's "
                     "as_of_date)"))
    if last_week is not None and (run_date - last_week).days > 7 * (inactive_weeks + 1):
        rows.append((schema.ORDERS.name, STALE_DATA, "requested_week",
                     f"the last demand is in the week of {last_week}, {(run_date - last_week).days // 7} weeks "
                     f"before the run date {run_date}: a series without demand in {inactive_weeks} weeks is "
                     "forecast as zero (check --run-date or the orders' extract)"))
    return pl.DataFrame(rows, schema=WARNING_SCHEMA, orient="row")


def short_backtest_warnings(horizon: int, scored: int | None, series: int) -> pl.DataFrame:
    """One warning (``WARNING_SCHEMA``) where the forecast's backtest scored fewer than the plan's ``horizon``
    weeks ahead (``scored``: ``ForecastResult.backtest_horizon``), or none of the ``series`` forecast from
    their history at all (``scored`` None); none otherwise."""
    if (scored is not None and scored >= horizon) or (scored is None and not series):
        return pl.DataFrame(schema=WARNING_SCHEMA)
    if scored is None:
        reason = (f"no series has the history for a backtest: the bands of all {series} series forecast from their "
                  "history are the wide lognormal one (forecast setting rule_band_cv), a guess and not a "
                  "measurement, and safety stock stands on them (more history, or a consensus demand file)")
    else:
        later = f"week {horizon} takes" if scored + 1 == horizon else f"weeks {scored + 1}-{horizon} take"
        reason = (f"the demand history is too short to backtest any series {horizon} weeks ahead: the forecast's "
                  f"bands are calibrated on a {scored}-week backtest, and {later} its errors grown as they grew "
                  f"over its {scored} weeks, an extrapolation that safety stock stands on (more history, or a "
                  "shorter horizon_weeks)")
    return pl.DataFrame([(schema.ORDERS.name, SHORT_BACKTEST, "horizon_weeks", reason)], schema=WARNING_SCHEMA,
                        orient="row")


def demand_outlier_warnings(history: pl.DataFrame, ratio: float = OUTLIER_RATIO) -> pl.DataFrame:
    """The warnings (``WARNING_SCHEMA``) of the weeks of ``history`` (``product_id, site_id, week, quantity``)
    whose demand exceeds ``ratio`` times the median of their series' weeks with demand and ten times every
    week of the series more than four weeks away (a peak that recurs, such as a yearly one, is the series'
    own; a typo repeated in the next week is not), in series with at least 8 weeks with demand; the largest
    first."""
    keys = ["product_id", "site_id"]
    positive = history.filter(pl.col("quantity") > 0).select(*keys, "week", "quantity")
    usual = positive.group_by(keys).agg(median=pl.col("quantity").median(), weeks=pl.len())
    high = (positive.join(usual, on=keys, validate="m:1")
            .filter((pl.col("weeks") >= _OUTLIER_MIN_WEEKS) & (pl.col("quantity") > ratio * pl.col("median"))))
    away = (  # the largest week of the series more than four weeks from each high one (few: a join is cheap)
        high.select(*keys, "week")
        .join(positive.rename({"week": "other", "quantity": "other_quantity"}), on=keys, how="left")
        .filter((pl.col("other") - pl.col("week")).abs() > timedelta(weeks=_OUTLIER_NEAR_WEEKS))
        .group_by(*keys, "week").agg(farther=pl.col("other_quantity").max())
    )
    return (
        high.join(away, on=[*keys, "week"], how="left", validate="1:1")
        .filter(pl.col("quantity") > _OUTLIER_OVER_NEXT * pl.col("farther").fill_null(0.0))
        .sort(pl.col("quantity") / pl.col("median"), "product_id", "site_id", "week", descending=[True, False,
                                                                                                   False, False])
        .select(_week_warning(DEMAND_OUTLIER, pl.format(
            "demand for product {} at site {} in the week of {} is {}, {}× the series' median week with demand "
            "({}): check that week's order lines for a quantity with extra digits or in another unit (the "
            "forecast and the plan use it as demand, unless a demand_one_off warning names the same week)",
            "product_id", "site_id", "week", pl.col("quantity").round(1),
            (pl.col("quantity") / pl.col("median")).round(0).cast(pl.Int64), pl.col("median").round(1))))
        .cast(WARNING_SCHEMA)
    )


def _week_warning(rule: str, reason: pl.Expr) -> list[pl.Expr]:
    """The columns of an ``orders`` warning about one week of a product × site series (``product_id,
    site_id, week``): key ``product|site|week``."""
    return [pl.lit(schema.ORDERS.name).alias("entity"), pl.lit(rule).alias("rule"),
            pl.concat_str("product_id", "site_id", pl.col("week").cast(pl.String), separator="|").alias("key"),
            reason.alias("reason")]


def demand_one_off_warnings(one_offs: pl.DataFrame) -> pl.DataFrame:
    """The warnings (``WARNING_SCHEMA``) of the weeks the forecast fitted at their local level
    (``product_id, site_id, week, quantity, replaced_by``: ``ForecastResult.outliers``), the farthest from
    their level first."""
    far = pl.col("quantity") / pl.col("replaced_by")
    return (
        one_offs.sort(far, "product_id", "site_id", "week", descending=[True, False, False, False])
        .select(_week_warning(DEMAND_ONE_OFF, pl.format(
            "demand for product {} at site {} in the week of {} was {}, {}× its level of {} around it: the "
            "forecast fitted that week at its level as a one-off (if such orders come again, book them or give a "
            "consensus demand; forecast setting outlier_factor)",
            "product_id", "site_id", "week", pl.col("quantity").round(1), far.round(2),
            pl.col("replaced_by").round(1))))
        .cast(WARNING_SCHEMA)
    )


def period_bucket_warnings(history: pl.DataFrame, inactive_weeks: int = 13) -> pl.DataFrame:
    """One warning (``WARNING_SCHEMA``) if series of ``history`` (``product_id, site_id, week, quantity``)
    with at least six weeks with demand have it only in weeks holding the 1st of a month: monthly or quarterly
    figures read as weekly demand. It counts them, names three and the median gap between their weeks
    (about 4 weeks: months; about 13: quarters). None when no series is so."""
    keys = ["product_id", "site_id"]
    positive = history.filter(pl.col("quantity") > 0).select(*keys, "week")
    found = (positive.group_by(keys)
             .agg(weeks=pl.len(), firsts=(pl.col("week") + timedelta(days=6)).dt.day().le(7).all())
             .filter((pl.col("weeks") >= _BUCKET_MIN_WEEKS) & pl.col("firsts")))
    if not found.height:
        return pl.DataFrame(schema=WARNING_SCHEMA)
    series = (positive.join(found.select(keys), on=keys).sort(*keys, "week")  # sorted: only the series found
              .group_by(keys, maintain_order=True).agg(gap=pl.col("week").diff().dt.total_days().median() / 7))
    total = history.select(pl.struct(keys).n_unique()).item()
    named = ", ".join(f"{p} at {s}" for p, s in series.head(3).select(keys).iter_rows())
    gap = series["gap"].median()
    reason = (
        f"{series.height} of {total} series ({named}) have demand only in the week holding the 1st of a month, "
        f"{gap:.0f} weeks apart (median): monthly or quarterly figures read as weekly demand? The forecast "
        "takes the weeks between as no demand (lumpy, with no yearly season) and forecasts as zero a series "
        f"with none in the last {inactive_weeks} weeks (forecast.inactive_weeks), as a quarterly one is for "
        "most of each quarter. plantwin plans in ISO weeks and no setting reads months or quarters: "
        f"{RESAMPLE_TO_WEEKS}. Orders really placed once a month need nothing."
    )
    return pl.DataFrame([(schema.ORDERS.name, PERIOD_BUCKETS, "requested_week", reason)], schema=WARNING_SCHEMA,
                        orient="row")


def component_demand_warnings(history: pl.DataFrame, bom: pl.DataFrame) -> pl.DataFrame:
    """The warnings (``WARNING_SCHEMA``) of the product × site series of ``history`` (``product_id, site_id,
    week, quantity``) with demand whose product is a ``component_id`` of ``bom``: one per series."""
    if bom.height == 0 or history.height == 0:
        return pl.DataFrame(schema=WARNING_SCHEMA)
    return (
        history.filter(pl.col("quantity") > 0)
        .join(bom.select(pl.col("component_id").alias("product_id")).unique(), on="product_id")
        .group_by("product_id", "site_id")
        .agg(pl.len().alias("weeks"), pl.col("quantity").sum())
        .sort("product_id", "site_id")
        .pipe(_pair_warnings, schema.ORDERS.name, COMPONENT_DEMAND, "site_id", pl.format(
            "{} is a component in the bill of materials and has orders of its own at {} ({} weeks, {} "
            "units): they are forecast and planned beside what its parents consume; if they are internal "
            "transfers (to a fill or pack line), leave them out of orders",
            "product_id", "site_id", "weeks", pl.col("quantity").round(0).cast(pl.Int64)))
    )


def continuous_campaign_warnings(routings: pl.DataFrame, resources: pl.DataFrame) -> pl.DataFrame:
    """The warnings (``WARNING_SCHEMA``) of the routings on a campaign-run resource with neither
    ``batch_size`` nor ``min_batch``, one per row, naming its file and row (``source_file``, ``source_row``
    columns of ``routings``), in file order."""
    campaign = resources.filter(pl.col("campaign").fill_null(False)).select("resource_id")
    return (
        routings.join(campaign, on="resource_id", how="semi")
        .filter(pl.col("batch_size").is_null() & pl.col("min_batch").is_null())
        .sort("source_file", "source_row")
        .pipe(_pair_warnings, schema.ROUTINGS.name, CONTINUOUS_CAMPAIGN, "resource_id", pl.format(
            "{} row {}: product {} on the campaign-run resource {} has neither batch_size nor min_batch, "
            "so it is planned continuously (any quantity a week) where a campaign suite makes whole "
            "batches: set batch_size (and min_batch) to its batch, or min_batch alone to the smallest "
            "run of a continuous process", "source_file", "source_row", "product_id", "resource_id"))
    )


def _pair_warnings(frame: pl.DataFrame, entity: str, rule: str, other: str, reason: pl.Expr) -> pl.DataFrame:
    """One warning row per row of ``frame``, keyed ``product_id|<other>``."""
    return frame.select(entity=pl.lit(entity), rule=pl.lit(rule),
                        key=pl.concat_str("product_id", pl.lit("|"), other), reason=reason).cast(WARNING_SCHEMA)
