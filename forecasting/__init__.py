"""Demand forecasting: weekly series from orders, classification, backtest-chosen models, quantiles.

Pure functions on polars frames (no I/O). The series contract is statsforecast's: ``unique_id, ds, y``.

The public names below are imported lazily, so that ``from forecasting import ForecastConfig`` (the
settings) or the demand-series helpers do not pay for importing statsforecast (seconds in a fresh
process): only the model code (``forecast``, ``engine``, ``orders``, ``models``) imports it.

May import: ``data_contracts``, statsforecast, polars, numpy.
Must not import: ``warehouse`` (no I/O), ``optimization``, ``twin``, ``report``, ``flows``, ``cli``.
"""

from __future__ import annotations

from data_contracts.lazy import lazy_names

_PUBLIC = {
    "forecast_accuracy": "forecasting.accuracy",
    "BACKTESTED_CLASSES": "forecasting.classify",
    "CLASSES": "forecasting.classify",
    "classify_series": "forecasting.classify",
    "ForecastConfig": "forecasting.config",
    "infer_freq": "forecasting.config",
    "from_series": "forecasting.demand",
    "future_orders": "forecasting.demand",
    "missing_weeks": "forecasting.demand",
    "quarantined_orders": "forecasting.demand",
    "run_week": "forecasting.demand",
    "to_series": "forecasting.demand",
    "weekly_demand": "forecasting.demand",
    "ForecastResult": "forecasting.forecast",
    "forecast_demand": "forecasting.forecast",
    "validate_series": "forecasting.forecast",
    "naive_scale": "forecasting.metrics",
    "score_backtest": "forecasting.metrics",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(globals(), _PUBLIC)
