"""Demand forecasting: weekly series from orders, classification, backtest-chosen models, quantiles.

Pure functions on polars frames (no I/O). The series contract is statsforecast's: ``unique_id, ds, y``.

May import: ``data_contracts``, statsforecast, polars, numpy.
Must not import: ``warehouse`` (no I/O), ``optimization``, ``twin``, ``report``, ``flows``, ``cli``.
"""

from forecasting.accuracy import forecast_accuracy
from forecasting.classify import CLASSES, classify_series
from forecasting.config import ForecastConfig
from forecasting.demand import (
    from_series,
    future_orders,
    missing_weeks,
    quarantined_orders,
    run_week,
    to_series,
    weekly_demand,
)
from forecasting.forecast import ForecastResult, forecast_demand, validate_series
from forecasting.metrics import naive_scale, score_backtest

__all__ = [
    "CLASSES",
    "ForecastConfig",
    "ForecastResult",
    "classify_series",
    "forecast_accuracy",
    "forecast_demand",
    "from_series",
    "future_orders",
    "missing_weeks",
    "quarantined_orders",
    "naive_scale",
    "run_week",
    "score_backtest",
    "to_series",
    "validate_series",
    "weekly_demand",
]
