"""Native seasonal models for short seasons (SETS, SARIMA, TARIMA, TETS), the rule that picks the candidates by
season, and the set's choice between its default and its alternatives."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from statsforecast.models import AutoETS

from forecasting import ForecastConfig, forecast_demand
from forecasting.config import (
    DECOMPOSED_SEASONAL_DEFAULT,
    DECOMPOSED_SEASONAL_MODELS,
    NATIVE_SEASONAL_ALTERNATIVES,
    NATIVE_SEASONAL_DEFAULT,
    NATIVE_SEASONAL_MODELS,
    infer_freq,
    season_of,
)
from forecasting.models import NativeSeasonal, SeasonTested, base_models, is_known
from forecasting.seasonal import is_seasonal

H = 12


def test_candidates_follow_the_season_length():
    weekly = ForecastConfig()
    assert weekly.seasonal_models == DECOMPOSED_SEASONAL_MODELS
    assert weekly.seasonal_default == "Mean(DETS,DOT,DARIMA,MSTL_AAdN)" == DECOMPOSED_SEASONAL_DEFAULT
    for m, freq in ((12, "1mo"), (4, "1q"), (24, "1mo")):
        short = ForecastConfig(season_length=m, freq=freq)
        assert short.seasonal_models == NATIVE_SEASONAL_MODELS
        assert short.seasonal_default == NATIVE_SEASONAL_DEFAULT == "Mean(SETS,DOT,DARIMA)"
    assert ForecastConfig(season_length=7, freq="1d").seasonal_default == NATIVE_SEASONAL_DEFAULT
    assert ForecastConfig(season_length=12, native_season_max=6).seasonal_default == DECOMPOSED_SEASONAL_DEFAULT
    # what a run sets explicitly wins over the rule, null included
    given = ForecastConfig(season_length=12, seasonal_models=("Naive", "DETS"), seasonal_default=None)
    assert given.seasonal_models == ("Naive", "DETS") and given.seasonal_default is None
    assert all(is_known(n) for n in (*NATIVE_SEASONAL_MODELS, *DECOMPOSED_SEASONAL_MODELS))


def test_candidates_follow_the_season_length_through_model_copy():
    """A copy with another season re-picks the candidates the season chose, keeps those a run gave, and is
    validated like a new config."""
    monthly = ForecastConfig().model_copy(update={"season_length": 12, "freq": "1mo"})
    assert monthly.seasonal_models == NATIVE_SEASONAL_MODELS
    assert monthly.seasonal_default == NATIVE_SEASONAL_DEFAULT
    assert monthly == ForecastConfig(season_length=12, freq="1mo")
    weekly = monthly.model_copy(update={"season_length": 52, "freq": "1w"})
    assert weekly.seasonal_models == DECOMPOSED_SEASONAL_MODELS and weekly == ForecastConfig()
    assert ForecastConfig(season_length=12).model_copy(update={"native_season_max": 6}).seasonal_default == (
        DECOMPOSED_SEASONAL_DEFAULT)
    given = ForecastConfig(seasonal_models=("Naive", "DETS"), seasonal_default=None)
    kept = given.model_copy(update={"season_length": 12})
    assert kept.seasonal_models == ("Naive", "DETS") and kept.seasonal_default is None
    assert ForecastConfig().model_copy() == ForecastConfig()
    with pytest.raises(ValueError, match="input_weeks"):  # the copy's season hides behind input_weeks
        ForecastConfig(input_weeks=104).model_copy(update={"season_length": 60})
    with pytest.raises(ValueError, match="season_length"):
        ForecastConfig().model_copy(update={"season_length": 0})


def test_native_seasonal_models_fit_a_monthly_season_and_fall_back_when_short():
    t = np.arange(72 + H)
    rng = np.random.default_rng(5)
    y = 200 + 0.5 * t + 40 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, t.size)
    train, truth = y[:72], y[72:]
    sets, sarima = base_models(("SETS", "SARIMA"), 12)
    assert isinstance(sets, NativeSeasonal) and repr(sets) == "SETS" and repr(sarima) == "SARIMA"
    for model in (sets, sarima):
        fitted = model.new().fit(train).predict(H)["mean"]
        assert np.abs(fitted - truth).mean() < 5.0  # noise sd 2, season amplitude 40
        assert np.allclose(model.forecast(train, H)["mean"], fitted)
    # under two seasons the season is not estimated: the plain ZZN ETS, exactly
    short = train[:20]
    assert np.allclose(sets.forecast(short, H)["mean"],
                       AutoETS(model="ZZN").forecast(y=short, h=H)["mean"])


@pytest.mark.filterwarnings("ignore")
def test_aarima_is_the_peers_autoarima_at_the_season_and_qarima_its_approximated_search():
    """The registered options of stop 44: ``AARIMA`` forecasts what statsforecast's AutoARIMA at the season
    (the benchmark's peer) does, ``QARIMA`` what its ``approximation=True`` search does; under two seasons
    both are the non-seasonal search."""
    from statsforecast.models import AutoARIMA

    t, e = np.arange(72), np.random.default_rng(3).normal(0, 4, 72)
    x = np.zeros(t.size)
    for k in range(2, t.size):  # an AR(2): the default search takes p = 2, the approximated one another fit
        x[k] = 1.2 * x[k - 1] - 0.6 * x[k - 2] + e[k]
    y = 300 + 30 * np.sin(2 * np.pi * t / 12) + x
    aarima, qarima = base_models(("AARIMA", "QARIMA"), 12)
    assert repr(aarima) == "AARIMA" and repr(qarima) == "QARIMA" and is_known("Mean(SETS,DOT,AARIMA)")
    for model, peer, plain in ((aarima, AutoARIMA(season_length=12), AutoARIMA()),
                               (qarima, AutoARIMA(season_length=12, approximation=True),
                                AutoARIMA(approximation=True))):
        assert np.allclose(model.forecast(y, H)["mean"], peer.forecast(y=y, h=H)["mean"])
        assert np.allclose(model.forecast(y[:20], H)["mean"], plain.forecast(y=y[:20], h=H)["mean"])


@pytest.mark.filterwarnings("ignore")
def test_narima_is_the_peers_autoarima_without_drift():
    """``NARIMA`` (stop 46) forecasts what statsforecast's AutoARIMA with ``allowdrift=False`` does, at the
    season and, under two seasons, without it, and ``QNARIMA`` what the same approximated search does; on a
    short random walk with a drift ``NARIMA`` does not carry the drift that ``AARIMA`` fits."""
    from statsforecast.models import AutoARIMA

    y = 300 + np.cumsum(4 + np.random.default_rng(5).normal(0, 2, 72))
    aarima, narima, qnarima = base_models(("AARIMA", "NARIMA", "QNARIMA"), 12)
    assert repr(narima) == "NARIMA" and repr(qnarima) == "QNARIMA" and is_known("Mean(SETS,DOT,QNARIMA)")
    short = y[:20]
    for model, approximation in ((narima, False), (qnarima, True)):
        assert np.allclose(model.forecast(y, H)["mean"], AutoARIMA(
            season_length=12, allowdrift=False, approximation=approximation).forecast(y=y, h=H)["mean"])
        assert np.allclose(model.forecast(short, H)["mean"], AutoARIMA(
            allowdrift=False, approximation=approximation).forecast(y=short, h=H)["mean"])
    rise = {m: m.forecast(short, H)["mean"][-1] - short[-1] for m in (aarima, narima)}
    assert rise[aarima] > 3 * H and rise[narima] < 0.75 * rise[aarima]


@pytest.mark.filterwarnings("ignore")
def test_a_monthly_run_backtests_the_native_seasonal_candidates_and_follows_the_season():
    """Clean monthly seasons (trend + season + small noise): a monthly run backtests SETS among its
    candidates, keeps a native seasonal model and forecasts the season (the weekly lists had no SETS)."""
    n, rng = 96, np.random.default_rng(9)
    months = pl.date_range(date(2012, 1, 1), date(2021, 12, 1), "1mo", eager=True)
    frames, truths = [], {}
    for i in range(4):
        t = np.arange(n + H)
        clean = 300 + (i + 1) * t + 60 * np.sin(2 * np.pi * (t + 3 * i) / 12)
        y = clean + rng.normal(0, 3, t.size)
        frames.append(pl.DataFrame({"unique_id": f"s{i}", "ds": months[:n], "y": y[:n]}))
        truths[f"s{i}"] = clean[n:]
    history = pl.concat(frames)
    result = forecast_demand(history, H, ForecastConfig(freq="1mo", season_length=12, n_jobs=1))
    assert set(result.backtest.get_column("model")) >= {"SETS", "DOT", "DARIMA", NATIVE_SEASONAL_DEFAULT}
    picked = result.series.filter(pl.col("series_class") == "smooth")
    assert picked.height == 4 and set(picked.get_column("model")) <= set(NATIVE_SEASONAL_MODELS) - {"Naive"}
    for uid, truth in truths.items():
        mean = result.forecast.filter(pl.col("unique_id") == uid).sort("ds").get_column("mean").to_numpy()
        assert np.abs(mean - truth).mean() < 8.0, uid  # noise sd 3, season amplitude 60


def test_the_weekly_mean_s_mstl_member_follows_a_season_and_is_its_trend_model_when_short():
    """MSTL_AAdN (STL season, damped additive trend), a member of the weekly mean: it forecasts a clean
    weekly season far better than its trend model alone, and under two seasons it is that trend model."""
    t = np.arange(156 + 52)
    rng = np.random.default_rng(11)
    y = 500 + 120 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 5, t.size)
    train, truth = y[:156], y[156:]  # a whole season ahead: no trend model can follow it
    (mstl,) = base_models(("MSTL_AAdN",), 52)
    assert repr(mstl) == "MSTL_AAdN"
    seasonal = mstl.forecast(train, 52)["mean"]
    damped = AutoETS(model="AAN", damped=True)
    trend = damped.forecast(y=train, h=52)["mean"]
    assert np.abs(seasonal - truth).mean() < 15.0 < np.abs(trend - truth).mean()  # noise sd 5, amplitude 120
    short = train[:80]
    assert np.allclose(mstl.forecast(short, 13)["mean"], damped.forecast(y=short, h=13)["mean"])
    assert "MSTL_AAdN" in ForecastConfig().seasonal_models and "MSTL_AAdN" in DECOMPOSED_SEASONAL_DEFAULT


def _season_and_walk() -> tuple[np.ndarray, np.ndarray]:
    """72 months (seed 11) of a clear monthly season (300 + 80·sin, noise sd 3) and of a random walk."""
    rng = np.random.default_rng(11)
    t = np.arange(72)
    seasonal = 300 + 80 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 3, t.size)
    walk = 500 + np.cumsum(rng.normal(0, 10, t.size))
    return seasonal, walk


def test_tarima_is_darima_where_the_season_shows_and_the_seasonal_arima_where_it_does_not():
    """``TARIMA`` follows the M4 seasonality test on each fit's own history: a clear monthly season → the
    decomposition and the non-seasonal ARIMA (DARIMA's forecast, exactly); a random walk, where the test
    finds none → the seasonal AutoARIMA's (SARIMA's, exactly)."""
    seasonal, walk = _season_and_walk()
    tarima, darima, sarima = base_models(("TARIMA", "DARIMA", "SARIMA"), 12)
    assert isinstance(tarima, SeasonTested) and repr(tarima) == "TARIMA"
    assert is_seasonal(seasonal, 12) and not is_seasonal(walk, 12)
    assert np.allclose(tarima.forecast(seasonal, H)["mean"], darima.forecast(seasonal, H)["mean"])
    assert np.allclose(tarima.forecast(walk, H)["mean"], sarima.forecast(walk, H)["mean"])
    assert np.allclose(tarima.new().fit(walk).predict(H)["mean"], sarima.forecast(walk, H)["mean"])


def test_tets_is_dets_where_the_season_shows_and_the_seasonal_ets_where_it_does_not():
    """``TETS`` is ``TARIMA``'s test applied to the ETS member: a clear monthly season → the classical
    decomposition and the non-seasonal ETS (DETS's forecast, exactly); a random walk, where the test finds
    none → the seasonal AutoETS (SETS's, exactly)."""
    seasonal, walk = _season_and_walk()
    tets, dets, sets = base_models(("TETS", "DETS", "SETS"), 12)
    assert isinstance(tets, SeasonTested) and repr(tets) == "TETS"
    assert is_seasonal(seasonal, 12) and not is_seasonal(walk, 12)
    assert np.allclose(tets.forecast(seasonal, H)["mean"], dets.forecast(seasonal, H)["mean"])
    assert not np.allclose(tets.forecast(seasonal, H)["mean"], sets.forecast(seasonal, H)["mean"])
    assert np.allclose(tets.forecast(walk, H)["mean"], sets.forecast(walk, H)["mean"])
    assert np.allclose(tets.new().fit(seasonal).predict(H)["mean"], dets.forecast(seasonal, H)["mean"])


def test_a_short_season_backtests_its_alternative_default_and_the_set_takes_the_better_one():
    """The set's default is chosen once for the set from the pooled backtest: on clean trend + season
    series SETS beats Naive in every window, so with SETS as the alternative of a Naive default every
    series takes SETS (champions off: ``champion_margin`` 1); with fewer series than
    ``strategy_min_series`` the default stays."""
    n, rng = 72, np.random.default_rng(3)
    months = pl.date_range(date(2015, 1, 1), date(2020, 12, 1), "1mo", eager=True)
    history = pl.concat([
        pl.DataFrame({"unique_id": f"s{i}", "ds": months[:n],
                      "y": 400 + (i + 2) * np.arange(n) + 70 * np.sin(2 * np.pi * (np.arange(n) + i) / 12)
                      + rng.normal(0, 3, n)})
        for i in range(4)
    ])
    given = {"freq": "1mo", "season_length": 12, "n_jobs": 1, "champion_margin": 1.0,
             "seasonal_models": ("Naive", "SeasonalNaive", "SETS"), "seasonal_default": "Naive",
             "seasonal_alternatives": ("SETS",)}
    took = forecast_demand(history, H, ForecastConfig(**given, strategy_min_series=3))
    assert "SETS" in set(took.backtest.get_column("model"))
    assert took.series.select("model", "selection").unique().rows() == [("SETS", "default")]
    kept = forecast_demand(history, H, ForecastConfig(**given, strategy_min_series=5))
    assert kept.series.select("model", "selection").unique().rows() == [("Naive", "default")]


def _trend_season(count: int, n: int = 72) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    months = pl.date_range(date(2015, 1, 1), date(2020, 12, 1), "1mo", eager=True)
    return pl.concat([
        pl.DataFrame({"unique_id": f"s{i}", "ds": months[:n],
                      "y": 400 + (i + 2) * np.arange(n) + 70 * np.sin(2 * np.pi * (np.arange(n) + i) / 12)
                      + rng.normal(0, 3, n)})
        for i in range(count)
    ])


def _multiplicative(count: int, n: int = 60) -> pl.DataFrame:
    """A season that grows with a rising level (30% of it), under noise."""
    rng = np.random.default_rng(3)
    months = pl.date_range(date(2015, 1, 1), date(2020, 12, 1), "1mo", eager=True)
    t = np.arange(n)
    return pl.concat([
        pl.DataFrame({"unique_id": f"s{i}", "ds": months[:n],
                      "y": (300 + 4 * t) * (1 + 0.3 * np.sin(2 * np.pi * (t + i) / 12)) + rng.normal(0, 20, n)})
        for i in range(count)
    ])


def test_the_set_takes_the_season_tested_ets_alternative_only_where_its_pooled_backtest_is_lower():
    """Offered both alternatives of a monthly set, each panel takes the one its pooled backtest scores best
    (``choose_default``), and every series keeps it: clean trend + season series keep the seasonal ETS
    (``Mean(SETS,DOT,TARIMA)``), a season growing with the level under noise takes ``TETS``'s
    (``Mean(TETS,DOT,TARIMA)``). Champions off (``champion_margin`` 1): the test is the set's choice."""
    alternatives = ("Mean(SETS,DOT,TARIMA)", "Mean(TETS,DOT,TARIMA)")
    given = {"freq": "1mo", "season_length": 12, "n_jobs": 1, "champion_margin": 1.0, "strategy_min_series": 2,
             "seasonal_alternatives": alternatives}
    for history, taken in ((_trend_season(6, 60), alternatives[0]), (_multiplicative(6), alternatives[1])):
        result = forecast_demand(history, H, ForecastConfig(**given))
        means = (result.backtest.filter(pl.col("model").is_in(alternatives)).group_by("model")
                 .agg(pl.col("mase").mean()).sort("mase"))
        assert means.get_column("model").to_list()[0] == taken
        assert result.series.select("model", "selection").unique().rows() == [(taken, "default")]


def test_a_sample_chooses_the_default_and_the_rest_backtest_only_the_one_taken():
    """``alternative_sample``: the alternatives are backtested on an even spread of the set's series only.
    Where the sample's backtest takes an alternative (clean trend + season: ``Mean(SETS,DOT)`` beats Naive in
    every window), the other series backtest it afterwards (DOT, the member no candidate holds, fitted; the
    mean formed from SETS's rows and DOT's): backtest, models and forecast are those of every series
    backtesting it. Where the sample keeps the default (Naive's and SeasonalNaive's mean beside SETS), the
    alternative's backtest exists on the sample only and the forecast is the same as without it."""
    history = _trend_season(6)
    given = {"freq": "1mo", "season_length": 12, "n_jobs": 1, "champion_margin": 1.0, "strategy_min_series": 2,
             "seasonal_models": ("Naive", "SeasonalNaive", "SETS"), "seasonal_default": "Naive",
             "seasonal_alternatives": ("Mean(SETS,DOT)",)}
    every = forecast_demand(history, H, ForecastConfig(**given, alternative_sample=None))
    sampled = forecast_demand(history, H, ForecastConfig(**given, alternative_sample=2))
    assert sampled.series.select("model", "selection").unique().rows() == [("Mean(SETS,DOT)", "default")]
    assert sampled.series.equals(every.series)
    assert sampled.forecast.equals(every.forecast)
    order = ["unique_id", "model", "window"]
    assert sampled.backtest.sort(order).equals(every.backtest.sort(order))
    # the default kept: the alternative backtested on the sample alone (s0 and s3 of s0..s5)
    kept = {**given, "seasonal_default": "SETS", "seasonal_alternatives": ()}
    alone = forecast_demand(history, H, ForecastConfig(**kept))
    kept["seasonal_alternatives"] = ("Mean(Naive,SeasonalNaive)",)
    sampled = forecast_demand(history, H, ForecastConfig(**kept, alternative_sample=2))
    assert sampled.series.select("model", "selection").unique().rows() == [("SETS", "default")]
    tried = sampled.backtest.filter(pl.col("model") == "Mean(Naive,SeasonalNaive)")
    assert sorted(tried.get_column("unique_id").unique()) == ["s0", "s3"]
    assert sampled.forecast.equals(alone.forecast)


def test_the_season_tested_alternative_is_the_default_of_monthly_and_quarterly_data_only():
    """With TARIMA carrying its order (stop 24) it won or tied on M1 monthly, quarterly and PBS: the default
    beside the chosen default for periods of a month or longer; weekly data (decomposed seasons) and daily
    data (SARIMA(7) on 1,092-day fits) keep none, and a given default gets no alternative it did not ask for."""
    for m, freq in ((12, "1mo"), (4, "1q")):
        assert ForecastConfig(season_length=m, freq=freq).seasonal_alternatives == NATIVE_SEASONAL_ALTERNATIVES
    for m, freq in ((52, "1w"), (7, "1d"), (12, "1w")):
        assert ForecastConfig(season_length=m, freq=freq).seasonal_alternatives == ()
    assert ForecastConfig(season_length=12, freq="1mo", seasonal_default="SETS").seasonal_alternatives == ()
    assert ForecastConfig(season_length=12, freq="1mo", seasonal_alternatives=()).seasonal_alternatives == ()
    assert ForecastConfig(season_length=12, freq="1mo").model_copy(
        update={"season_length": 7, "freq": "1d"}).seasonal_alternatives == ()
    assert NATIVE_SEASONAL_ALTERNATIVES == ("Mean(SETS,DOT,TARIMA)",)
    assert all(is_known(n) for n in NATIVE_SEASONAL_ALTERNATIVES)
    given = ForecastConfig(season_length=12, freq="1mo", seasonal_alternatives=NATIVE_SEASONAL_ALTERNATIVES)
    assert given.model_copy(update={"season_length": 4, "freq": "1q"}).seasonal_alternatives == (
        NATIVE_SEASONAL_ALTERNATIVES)


def _monthly(n: int = 96) -> dict[str, np.ndarray]:
    """A clear season (the M4 test finds it: TARIMA's deseasonalised half) and two random walks with a
    faint one the test misses but the seasonal AutoARIMA's differencing finds (its seasonal half)."""
    t, out = np.arange(n), {}
    out["season"] = 300 + 80 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(11).normal(0, 3, n)
    for seed in (7, 9):
        out[f"walk{seed}"] = (500 + np.cumsum(np.random.default_rng(seed).normal(0, 10, n))
                              + 8 * np.sin(2 * np.pi * t / 12))
    return out


def test_tarima_with_the_order_its_search_found_forecasts_what_the_search_did_on_either_half():
    """The order of a fitted TARIMA names its half: five fields (DARIMA's ARIMA) where the test found a
    season, eight (the seasonal ARIMA's ``P,D,Q`` after them) where it found none; fixed, that half fits
    the order alone (no search) and the other half keeps its search."""
    from statsforecast.models import ARIMA, AutoARIMA

    from forecasting.orders import arima_order, with_arima_orders

    fields = {}
    for name, y in _monthly().items():
        y = y[:60]
        searched = base_models(("TARIMA",), 12)[0].fit(y)
        order = arima_order(searched)
        fields[name] = len(order.split(","))
        fixed = with_arima_orders(base_models(("TARIMA",), 12), (("TARIMA", order),))[0]
        assert repr(fixed) == "TARIMA" and isinstance(fixed.fixed, SeasonTested)
        if fields[name] == 8:
            assert isinstance(fixed.fixed.seasonal, ARIMA) and fixed.fixed.seasonal.seasonal_order == tuple(
                int(v) for v in order.split(",")[5:])
            assert isinstance(fixed.fixed.plain.model, AutoARIMA)  # the other half still searches
        else:
            assert isinstance(fixed.fixed.plain.model, ARIMA) and not isinstance(fixed.fixed.plain.model, AutoARIMA)
            assert isinstance(fixed.fixed.seasonal, NativeSeasonal)
        assert np.array_equal(fixed.fit(y).predict(H)["mean"], searched.predict(H)["mean"]), name
    assert fields == {"season": 5, "walk7": 8, "walk9": 8}
    # a seasonal order with seasonal terms was met (not only P = D = Q = 0)
    assert any(arima_order(base_models(("TARIMA",), 12)[0].fit(y[:60])).split(",")[5:] != ["0", "0", "0"]
               for y in _monthly().values())


def test_tarima_carries_its_order_across_the_backtest_origins_as_darima_does():
    """``backtest_refit`` ``arima_order``: TARIMA searches at the oldest origin only and fits that order at the
    later ones (returned for the final fit like DARIMA's); on the clearly seasonal series its backtest is
    DARIMA's, origin by origin (the same half, the same carried order)."""
    from forecasting.engine import Task, run_task
    from forecasting.orders import arima_order, with_arima_orders

    months = pl.date_range(date(2012, 1, 1), date(2019, 12, 1), "1mo", eager=True)
    series = _monthly()
    df = pl.concat([pl.DataFrame({"unique_id": uid, "ds": months, "y": y}) for uid, y in series.items()])
    task = Task(df=df, names=("DARIMA", "TARIMA"), season_length=12, freq="1mo", horizon=H, windows=3, step=H,
                forecast=False, fallback="Naive", cost=1.0, refit="arima_order")
    cv, _, orders = run_task(task)
    first = months.len() - 3 * H
    for uid, y in series.items():
        order = arima_order(base_models(("TARIMA",), 12)[0].fit(y[:first]))
        got = orders.filter((pl.col("unique_id") == uid) & (pl.col("model") == "TARIMA")).get_column("order")
        assert got.to_list() == [order]
        fixed = with_arima_orders(base_models(("TARIMA",), 12), (("TARIMA", order),))[0]
        for k in (1, 2):
            cut = first + k * H
            rows = cv.filter((pl.col("unique_id") == uid) & (pl.col("cutoff") == months[cut - 1]))
            tarima = rows.filter(pl.col("model") == "TARIMA").sort("ds").get_column("yhat").to_numpy()
            assert tarima == pytest.approx(fixed.forecast(y=y[:cut], h=H)["mean"], rel=1e-9)
            if uid == "season":
                darima = rows.filter(pl.col("model") == "DARIMA").sort("ds").get_column("yhat").to_numpy()
                assert tarima == pytest.approx(darima, rel=1e-9)


def test_aarima_carries_its_order_across_the_backtest_origins():
    """``AARIMA`` (the peers' AutoARIMA at the season) searches at the oldest origin only, as TARIMA does, and
    fits that order at the later ones; the fixed order forecasts what the search found on the same data, and
    a history under two seasons fixes the non-seasonal half's order (stop 45: before, AARIMA searched at
    every origin, four searches a series)."""
    from statsforecast.models import ARIMA, AutoARIMA

    from forecasting.engine import Task, run_task
    from forecasting.orders import arima_order, with_arima_orders

    months = pl.date_range(date(2012, 1, 1), date(2019, 12, 1), "1mo", eager=True)
    series = _monthly()
    df = pl.concat([pl.DataFrame({"unique_id": uid, "ds": months, "y": y}) for uid, y in series.items()])
    task = Task(df=df, names=("AARIMA",), season_length=12, freq="1mo", horizon=H, windows=3, step=H,
                forecast=False, fallback="Naive", cost=1.0, refit="arima_order")
    cv, _, orders = run_task(task)
    first = months.len() - 3 * H
    for uid, y in series.items():
        searched = base_models(("AARIMA",), 12)[0].fit(y[:first])
        order = arima_order(searched)
        assert order.count(",") == 7  # seasonal: p, d, q, mean, drift, P, D, Q
        got = orders.filter((pl.col("unique_id") == uid) & (pl.col("model") == "AARIMA")).get_column("order")
        assert got.to_list() == [order]
        fixed = with_arima_orders(base_models(("AARIMA",), 12), (("AARIMA", order),))[0]
        assert type(fixed.fixed.seasonal) is ARIMA and isinstance(fixed.fixed.plain, AutoARIMA)
        assert np.allclose(fixed.fit(y[:first]).predict(H)["mean"], searched.predict(H)["mean"], rtol=1e-9)
        for k in (1, 2):
            cut = first + k * H
            rows = cv.filter((pl.col("unique_id") == uid) & (pl.col("cutoff") == months[cut - 1]))
            got = rows.sort("ds").get_column("yhat").to_numpy()
            assert got == pytest.approx(fixed.forecast(y=y[:cut], h=H)["mean"], rel=1e-9)
    short = next(iter(series.values()))[:20]  # under two seasons: the plain AutoARIMA's order, fixed
    order = arima_order(base_models(("AARIMA",), 12)[0].fit(short))
    assert order.count(",") == 4
    fixed = with_arima_orders(base_models(("AARIMA",), 12), (("AARIMA", order),))[0]
    assert type(fixed.fixed.plain) is ARIMA and isinstance(fixed.fixed.seasonal, AutoARIMA)


@pytest.mark.parametrize(("freq", "season"), [("1w", 52), ("2w", 26), ("1mo", 12), ("3mo", 4), ("1q", 4),
                                              ("1y", 1), ("1d", 7), ("2d", 1), ("5w", 1)])
def test_the_season_follows_the_frequency_where_it_is_not_given(freq, season):
    """A year of the frequency's periods (a week of days); it was 52 whatever the frequency."""
    assert season_of(freq) == season
    assert ForecastConfig(freq=freq).season_length == season
    assert ForecastConfig(freq=freq, season_length=3).season_length == 3  # given: kept


@pytest.mark.parametrize(("freq", "start", "step"), [
    ("1d", date(2023, 3, 5), "1d"), ("1w", date(2023, 3, 8), "1w"), ("1mo", date(2015, 1, 1), "1mo"),
    ("1mo", date(2015, 1, 31), "1mo"), ("1q", date(2015, 1, 1), "3mo"), ("1q", date(2015, 3, 31), "3mo"),
    ("1y", date(2001, 1, 1), "1y"),
])
def test_the_frequency_is_read_from_the_dates(freq, start, step):
    """The most common step between a series' dates: any weekday for weeks, a month's first or last days
    (28–31 days apart) for months and quarters; a gap or a second, shorter series does not move it."""
    dates = pl.date_range(start, start.replace(year=start.year + 30), step, eager=True)[:40]
    if start.day > 28:  # dated by the months' last days
        dates = dates.dt.month_end()
    panel = pl.concat([
        pl.DataFrame({"unique_id": "long", "ds": dates}).filter(pl.int_range(pl.len()) != 20),  # a gap
        pl.DataFrame({"unique_id": "short", "ds": dates[-3:]}),
    ])
    assert infer_freq(panel) == freq
    assert ForecastConfig(freq=infer_freq(panel)).season_length == season_of(freq)


def test_a_frequency_that_cannot_be_read_is_asked_for():
    one_date = pl.DataFrame({"unique_id": ["a", "b"], "ds": [date(2024, 1, 1)] * 2})
    with pytest.raises(ValueError, match="no series has two dates"):
        infer_freq(one_date)
    fortnights = pl.DataFrame({"unique_id": "a", "ds": [date(2024, 1, d) for d in (1, 15, 29)]})
    with pytest.raises(ValueError, match="step by 14 days most often"):
        infer_freq(fortnights)


def test_a_derived_season_follows_the_frequency_through_model_copy():
    """Derived, the season is not a given setting: a copy at another frequency takes that one's season and
    candidates; a given season stays through a change of frequency."""
    monthly = ForecastConfig(freq="1mo")
    assert "season_length" not in monthly.model_fields_set
    weekly = monthly.model_copy(update={"freq": "1w"})
    assert (weekly.season_length, weekly.seasonal_default) == (52, DECOMPOSED_SEASONAL_DEFAULT)
    assert (monthly.season_length, monthly.seasonal_default) == (12, NATIVE_SEASONAL_DEFAULT)
    assert ForecastConfig(freq="1mo", season_length=12).model_copy(update={"freq": "1w"}).season_length == 12
    with pytest.raises(ValueError, match="freq must be a polars duration"):
        ForecastConfig(freq="1x")
