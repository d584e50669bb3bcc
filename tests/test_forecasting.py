"""Forecasting stage: demand from orders, classification, scores, champion selection, quantiles."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from data_contracts import schema
from forecasting import (
    ForecastConfig,
    classify_series,
    forecast_demand,
    from_series,
    future_orders,
    score_backtest,
    to_series,
    validate_series,
    weekly_demand,
)
from forecasting.select import select_champions, trim_worst_member
from forecasting.select_strategy import choose_default
from forecasting.synthetic import KINDS, synthetic_series

MON = date(2026, 1, 5)  # a Monday
QCOLS = [schema.quantile_column(q) for q in schema.QUANTILES]


def _w(k: int) -> date:
    return MON + timedelta(weeks=k)


def _series(uid: str, y, start: date = MON) -> pl.DataFrame:
    y = np.asarray(y, dtype=float)
    return pl.DataFrame({
        "unique_id": uid,
        "ds": pl.date_range(start, start + timedelta(weeks=len(y) - 1), "1w", eager=True),
        "y": y,
    })


# --------------------------------------------------------------------------------------------------
# demand from orders
# --------------------------------------------------------------------------------------------------
ORDERS = pl.DataFrame(
    [
        # order_id, order_date, requested_week, product_id, site_id, quantity, status
        ("o1", _w(-2), _w(0), "P1", "DC1", 10.0, "shipped"),
        ("o2", _w(-1), _w(0), "P1", "DC1", 5.0, None),  # absent status = open
        ("o3", _w(0), _w(2), "P1", "DC1", 7.0, "shipped"),  # week 1 has no orders: a zero inside the life
        ("o4", _w(1), _w(2), "P1", "DC1", 100.0, "cancelled"),
        ("o5", _w(2), _w(3), "P1", "DC2", 4.0, "open"),  # DC2's life starts in week 3
        ("o6", _w(2), _w(1), "P2", "DC1", 9.0, "cancelled"),  # only cancelled: no series at all
        ("o7", _w(3), _w(4), "P1", "DC1", 8.0, "open"),  # the run's week: booked future, not history
        ("o8", _w(3), _w(6), "P1", "DC2", 3.0, "cancelled"),
    ],
    schema=schema.ORDERS.schema,
    orient="row",
)
RUN_DATE = _w(4) + timedelta(days=2)  # a Wednesday of week 4


def test_weekly_demand_zero_fills_inside_life_and_drops_cancelled():
    got = weekly_demand(ORDERS, RUN_DATE)
    want = pl.DataFrame(
        {
            "product_id": ["P1"] * 5,
            "site_id": ["DC1", "DC1", "DC1", "DC1", "DC2"],
            "week": [_w(0), _w(1), _w(2), _w(3), _w(3)],
            "quantity": [15.0, 0.0, 7.0, 0.0, 4.0],
        }
    )
    assert got.equals(want), got
    assert got.columns == [c for c in schema.DEMAND_HISTORY.column_names if c != "run_id"]


def test_future_orders_are_booked_weeks_from_the_run_week():
    got = future_orders(ORDERS, RUN_DATE)
    assert got.rows() == [("P1", "DC1", _w(4), 8.0)]


def test_series_round_trip():
    demand = weekly_demand(ORDERS, RUN_DATE)
    series = to_series(demand)
    assert series.columns == ["unique_id", "ds", "y"]
    assert series.get_column("unique_id").unique().sort().to_list() == ["P1|DC1", "P1|DC2"]
    back = from_series(series).rename({"ds": "week", "y": "quantity"})
    assert back.sort("product_id", "site_id", "week").equals(demand)


def test_validate_series_rejects_gaps_and_nulls():
    gappy = _series("a", [1, 2, 3]).filter(pl.col("ds") != _w(1))
    with pytest.raises(ValueError, match="gaps"):
        validate_series(gappy)
    with pytest.raises(ValueError, match="missing"):
        validate_series(_series("a", [1, 2]).with_columns(y=pl.lit(None, pl.Float64)))
    # a NaN is a missing value too, an inf no demand: both were fitted, and the quantiles came out empty
    for odd in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="no finite number"):
            validate_series(_series("a", [odd, 2.0, 3.0]))


# --------------------------------------------------------------------------------------------------
# classification
# --------------------------------------------------------------------------------------------------
def test_classification_by_adi_cv2_and_life():
    cfg = ForecastConfig(season_length=4, new_weeks=3, inactive_weeks=2, short_seasons=2.0)
    frames = pl.concat([
        _series("smooth", [10, 11, 9, 10, 10, 11, 9, 10]),
        _series("erratic", [1, 30, 2, 40, 1, 30, 2, 40]),
        _series("intermittent", [5, 0, 0, 5, 0, 6, 0, 5]),  # ADI 8/4 = 2
        _series("lumpy", [1, 0, 0, 50, 0, 2, 0, 60]),
        _series("short", [10, 11, 9, 10, 10, 11, 9]),  # 7 < 2 seasons of 4
        _series("new", [10, 11]),
        _series("inactive", [10, 11, 9, 10, 10, 11, 0, 0]),
    ])
    got = classify_series(frames, cfg)
    assert dict(got.select("unique_id", "series_class").rows()) == {
        "smooth": "smooth", "erratic": "erratic", "intermittent": "intermittent", "lumpy": "lumpy",
        "short": "short", "new": "new", "inactive": "inactive",
    }
    inter = got.filter(pl.col("unique_id") == "intermittent").row(0, named=True)
    # sizes 5, 5, 6, 5: mean 5.25, sample variance 0.25 → CV² = 0.25 / 27.5625
    assert inter["adi"] == 2.0 and inter["n_weeks"] == 8
    assert inter["cv2"] == pytest.approx(0.25 / 5.25**2)


# --------------------------------------------------------------------------------------------------
# scores and selection
# --------------------------------------------------------------------------------------------------
def test_scores_by_hand():
    # history 10, 12, 11, 15 | cutoff at week 3 (value 15) | actuals 14, 16; forecast 15, 15
    series = _series("a", [10, 12, 11, 15, 14, 16])
    cv = pl.DataFrame({
        "unique_id": ["a", "a"], "ds": [_w(4), _w(5)], "cutoff": [_w(3), _w(3)], "y": [14.0, 16.0],
        "model": ["M", "M"], "yhat": [15.0, 15.0],
    })
    got = score_backtest(cv, series).row(0, named=True)
    # naive in-sample MAE up to the cutoff: (|12-10| + |11-12| + |15-11|) / 3 = 7/3; MAE = 1
    assert got["window"] == 0
    assert got["mase"] == pytest.approx(1 / (7 / 3))
    assert got["wape"] == pytest.approx(2 / 30)
    assert got["bias"] == pytest.approx(0.0)
    # a constant history has no naive error: scaled by its level instead
    flat = score_backtest(cv.with_columns(yhat=pl.lit(12.0)), _series("a", [10, 10, 10, 10, 14, 16]))
    assert flat.item(0, "mase") == pytest.approx(3 / 10)
    assert flat.item(0, "bias") == pytest.approx((24 - 30) / 30)


def test_selection_mase_then_wape_then_simpler():
    scores = pl.DataFrame({
        "unique_id": ["a", "a", "a", "b", "b", "c"],
        "model": ["Theta", "SeasonalNaive", "Naive", "ETS", "Naive", "ETS"],
        "window": [0] * 6,
        "mase": [0.5, 0.5, 0.9, 0.7, 0.7, None],
        "wape": [0.2, 0.2, 0.3, 0.1, 0.2, None],
        "bias": [0.0] * 5 + [None],
    })
    candidates = scores.select("unique_id", "model")
    got = dict(
        (u, (m, s)) for u, m, s in select_champions(scores, candidates, fallback="Naive").rows()
    )
    assert got == {
        "a": ("SeasonalNaive", "backtest"),  # tie on MASE and WAPE → simpler than Theta
        "b": ("ETS", "backtest"),  # tie on MASE → lower WAPE
        "c": ("Naive", "fallback"),  # nothing scored
    }


def test_choose_default_by_hand():
    """The set's default: the name with the lowest mean MASE over the series and windows every name has
    scored; ties and too few series keep the first name."""
    def scores(rows):
        return pl.DataFrame(rows, schema=["unique_id", "model", "window", "mase"], orient="row")

    rows = [("a", "D", 0, 1.0), ("a", "A", 0, 0.8), ("a", "D", 1, 1.2), ("a", "A", 1, 1.3),
            ("b", "D", 0, 0.5), ("b", "A", 0, 0.5),
            ("c", "D", 0, 9.0)]  # c: A not scored there, so its window is not compared
    # mean over (a,0) (a,1) (b,0): D 0.9, A 0.8667
    assert choose_default(scores(rows), ("D", "A"), min_series=2) == "A"
    assert choose_default(scores(rows), ("D", "A"), min_series=3) == "D"  # two series compared
    assert choose_default(scores([("a", "D", 0, 1.0), ("a", "A", 0, 1.0)]), ("D", "A"), min_series=1) == "D"
    assert choose_default(scores(rows), ("D",), min_series=1) == "D"
    assert choose_default(scores([r for r in rows if r[1] == "D"]), ("D", "A"), min_series=1) == "D"
    worse = [(u, m, w, x + (0.2 if m == "A" else 0.0)) for u, m, w, x in rows]
    assert choose_default(scores(worse), ("D", "A"), min_series=2) == "D"


def test_trim_worst_member_by_hand():
    """A series that keeps a mean of four takes the mean of the three members with the better backtest; a
    champion, a default of three, a member without a score and the option off keep the model."""
    four = "Mean(DETS,DOT,DARIMA,MSTL_AAdN)"
    rows = [("a", "DETS", 0, 1.0), ("a", "DOT", 0, 0.9), ("a", "DARIMA", 0, 1.1), ("a", "MSTL_AAdN", 0, 2.0),
            ("a", "DETS", 1, 1.0), ("a", "DOT", 1, 0.9), ("a", "DARIMA", 1, 1.1), ("a", "MSTL_AAdN", 1, 0.1),
            # b: DARIMA worst on the mean of its windows (1.5 against MSTL's 1.2); c: MSTL never scored
            ("b", "DETS", 0, 1.0), ("b", "DOT", 0, 1.0), ("b", "DARIMA", 0, 1.5), ("b", "MSTL_AAdN", 0, 1.2),
            ("c", "DETS", 0, 1.0), ("c", "DOT", 0, 1.0), ("c", "DARIMA", 0, 1.5), ("c", "MSTL_AAdN", 0, None),
            ("d", "DETS", 0, 1.0), ("d", "DOT", 0, 1.0), ("d", "DARIMA", 0, 1.5), ("d", "MSTL_AAdN", 0, 3.0)]
    scores = pl.DataFrame(rows, schema={"unique_id": pl.String, "model": pl.String, "window": pl.Int64,
                                        "mase": pl.Float64}, orient="row")
    chosen = pl.DataFrame({"unique_id": ["a", "b", "c", "d"], "model": [four, four, four, "DOT"],
                           "selection": ["default", "default", "default", "backtest"]})
    got = dict(trim_worst_member(chosen, scores, four, 4).select("unique_id", "model").rows())
    # a: MSTL's mean 1.05 is below DARIMA's 1.1, so DARIMA goes
    assert got == {"a": "Mean(DETS,DOT,MSTL_AAdN)", "b": "Mean(DETS,DOT,MSTL_AAdN)", "c": four, "d": "DOT"}
    assert trim_worst_member(chosen, scores, four, None).equals(chosen)
    assert trim_worst_member(chosen, scores, four, 5).equals(chosen)
    three = chosen.with_columns(model=pl.col("model").replace(four, "Mean(DETS,DOT,DARIMA)"))
    assert trim_worst_member(three, scores, "Mean(DETS,DOT,DARIMA)", 4).equals(three)


def test_a_weekly_series_keeping_the_mean_drops_its_worst_member_and_is_banded_on_its_own_backtest():
    """``trim_min_members=4`` on the weekly default of four: each series that keeps it is forecast by the mean of its three members
    with the better backtest MASE (the member dropped is the worst in ``result.backtest``), and that mean is
    what the forecast carries; without the option (the default) every such series keeps the four. A young
    series beside them keeps its own default (a mean of three), unscored."""
    weekly = synthetic_series(6, weeks=156, seed=5, kinds=("seasonal", "trend", "smooth"))
    young = _series("young", 50 + np.random.default_rng(1).normal(0, 5, 30),
                    start=weekly.get_column("ds").max() - timedelta(weeks=29))
    frames = pl.concat([weekly, young])
    config = ForecastConfig(selection_strategy="default")
    result = forecast_demand(frames, 13, config.model_copy(update={"trim_min_members": 4}))
    members = ("DETS", "DOT", "DARIMA", "MSTL_AAdN")
    kept = result.series.filter((pl.col("selection") == "default") & (pl.col("unique_id") != "young"))
    assert kept.height >= 4
    worst = dict(result.backtest.filter(pl.col("model").is_in(members)).group_by("unique_id", "model")
                 .agg(pl.col("mase").mean()).sort("mase", descending=True).group_by("unique_id", maintain_order=True)
                 .first().select("unique_id", "model").rows())
    for uid, model in kept.select("unique_id", "model").rows():
        assert model == f"Mean({','.join(m for m in members if m != worst[uid])})", uid
    assert set(result.forecast.join(kept, on="unique_id", how="semi").get_column("model")) <= set(
        kept.get_column("model"))
    assert result.forecast.filter(pl.col("q10") > pl.col("q90")).height == 0
    assert _champion(result, "young")["model"] == "Mean(ETS,Theta,ARIMA)"
    off = forecast_demand(frames, 13, config)  # the default: no trimming
    assert set(off.series.filter(pl.col("selection") == "default").get_column("model")) == {
        "Mean(DETS,DOT,DARIMA,MSTL_AAdN)", "Mean(ETS,Theta,ARIMA)"}


# --------------------------------------------------------------------------------------------------
# forecasts with a known answer
# --------------------------------------------------------------------------------------------------
def _champion(result, uid):
    return result.series.filter(pl.col("unique_id") == uid).row(0, named=True)


def test_known_series():
    t = np.arange(156)
    rng = np.random.default_rng(3)
    seasonal = 100 + 40 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 1, 156)
    inter = (rng.random(156) < 0.25) * rng.integers(5, 8, 156).astype(float)
    inter[0] = 6.0
    frames = pl.concat([
        _series("seasonal", seasonal),
        _series("constant", np.full(156, 20.0)),
        _series("intermittent", inter),
        _series("new", [30, 50, 40, 20], start=_w(152)),
        _series("inactive", np.r_[np.full(130, 9.0), np.zeros(26)]),
    ])
    res = forecast_demand(frames, horizon=26)
    fc = res.forecast

    s = _champion(res, "seasonal")
    # the default keeps it: since stop 29 its decomposed members see a 52-week season in 156 weeks (before,
    # three of its four forecast it flat and a SeasonalNaive champion had to win the backtest)
    assert s["series_class"] == "smooth" and s["selection"] == "default"
    assert s["model"] == ForecastConfig().seasonal_default
    truth = 100 + 40 * np.sin(2 * np.pi * np.arange(156, 182) / 52)
    mean = fc.filter(pl.col("unique_id") == "seasonal").get_column("mean").to_numpy()
    assert np.abs(mean - truth).mean() < 4.0  # noise sd 1, season amplitude 40

    flat = fc.filter(pl.col("unique_id") == "constant")
    assert np.allclose(flat.get_column("mean").to_numpy(), 20.0)
    assert np.allclose(flat.select(QCOLS).to_numpy(), 20.0)

    i = _champion(res, "intermittent")
    assert i["series_class"] == "intermittent"
    assert i["model"] in ("CrostonSBA", "TSB", "ADIDA", "IMAPA", "HistoricAverage")

    n = _champion(res, "new")
    assert (n["series_class"], n["selection"]) == ("new", "rule")
    new_row = fc.filter(pl.col("unique_id") == "new").row(0, named=True)
    assert new_row["mean"] == pytest.approx(35.0)
    assert new_row["q90"] > 2 * new_row["q10"] and new_row["q99"] > 2.5 * new_row["mean"]  # wide band

    z = fc.filter(pl.col("unique_id") == "inactive")
    assert _champion(res, "inactive")["series_class"] == "inactive"
    assert z.height == 26 and z.select(["mean", *QCOLS]).to_numpy().max() == 0.0
    assert z.get_column("ds").min() == _w(156)


def test_only_inactive_and_empty_inputs():
    res = forecast_demand(_series("gone", np.r_[np.full(30, 4.0), np.zeros(20)]), horizon=3)
    assert res.series.select("series_class", "model", "selection").row(0) == ("inactive", "Zero", "rule")
    assert res.forecast.height == 3 and res.backtest.height == 0
    empty = forecast_demand(pl.DataFrame(schema={"unique_id": pl.String, "ds": pl.Date, "y": pl.Float64}), 3)
    assert empty.forecast.height == 0 and empty.series.height == 0
    assert empty.forecast.columns == ["unique_id", "ds", "model", "mean", *QCOLS]


@pytest.fixture(scope="module")
def demo_run():
    """The demo's size: 200 series × 156 weeks (+26 held out), horizon 26, every kind of series.

    Its speed goal (under 40 CPU s) lives in ``bench/scale.py --synthetic 200``, not in a timed test."""
    full = synthetic_series(200, 182, seed=11, kinds=KINDS, new_weeks=34)
    cut = full.group_by("unique_id").agg(pl.col("ds").max() - pl.duration(weeks=26)).rename({"ds": "cut"})
    labelled = full.join(cut, on="unique_id")
    history = labelled.filter(pl.col("ds") <= pl.col("cut")).drop("cut")
    future = labelled.filter(pl.col("ds") > pl.col("cut")).drop("cut")
    return history, future, forecast_demand(history, 26)


def test_demo_size_forecasts_every_series_and_kind(demo_run):
    history, _, result = demo_run
    assert result.series.height == history.get_column("unique_id").n_unique()
    assert result.forecast.height == 26 * result.series.height
    assert set(result.series.get_column("series_class")) >= {"smooth", "intermittent", "new", "inactive"}


def test_quantiles_monotone_and_non_negative(demo_run):
    fc = demo_run[2].forecast
    assert fc.columns == ["unique_id", "ds", "model", "mean", *QCOLS]
    values = fc.select(QCOLS).to_numpy()
    assert (values >= 0).all() and (fc.get_column("mean") >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all()
    assert fc.null_count().sum_horizontal().item() == 0


def test_interval_coverage_on_simulated_data(demo_run):
    _, future, result = demo_run
    # series that stop inside the held-out weeks are not a fair test of an interval
    # (issue 14: a smooth series now keeps its set's default model, selection `default`; it is scored too)
    scored = result.series.filter(
        pl.col("selection").is_in(["backtest", "default"]) & ~pl.col("unique_id").str.starts_with("inactive")
    ).get_column("unique_id")
    joined = result.forecast.filter(pl.col("unique_id").is_in(scored.implode())).join(
        future, on=["unique_id", "ds"], validate="1:1"
    )
    inside = ((pl.col("y") >= pl.col("q10")) & (pl.col("y") <= pl.col("q90"))).mean()
    coverage = joined.select(inside).item()
    assert 0.70 <= coverage <= 0.90, coverage


def test_forecasting_past_the_horizon_keeps_the_horizons_forecast():
    """The plan's terminal condition reads demand beyond the horizon: a forecast run further, scored on the
    horizon alone, chooses the same models and forecasts the horizon's weeks exactly as a forecast over the
    horizon does; the extra weeks follow."""
    from forecasting.synthetic import synthetic_series

    series = synthetic_series(n=12, weeks=130, seed=4, kinds=("seasonal", "smooth", "intermittent", "new"))
    short = forecast_demand(series, 8)
    long = forecast_demand(series, 14, backtest_horizon=8)
    assert long.series.equals(short.series)
    cut = long.forecast.join(short.forecast.select("unique_id", "ds"), on=["unique_id", "ds"], how="semi")
    assert cut.sort("unique_id", "ds").equals(short.forecast.sort("unique_id", "ds"))
    weeks = long.forecast.group_by("unique_id").agg(pl.col("ds").n_unique())["ds"]
    assert weeks.min() == weeks.max() == 14
