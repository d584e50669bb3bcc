"""Typed configuration of the forecasting stage: one frozen pydantic model, unknown keys are an error."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from data_contracts import schema

__all__ = ["ForecastConfig"]


class ForecastConfig(BaseModel, frozen=True, extra="forbid"):
    """Knobs of :func:`forecasting.forecast_demand`; every default is the plan-of-record setting."""

    season_length: int = Field(52, ge=1, description="Observations per season (52 for weekly data).")
    freq: str = Field("1w", description="Series frequency as a polars duration (weekly Mondays: '1w').")
    backtest_windows: int = Field(3, ge=1, description="Rolling-origin backtest windows (most per series).")
    backtest_step: int | None = Field(
        None, ge=1, description="Weeks between backtest origins; None = the horizon (non-overlapping)."
    )
    quantiles: tuple[float, ...] = Field(schema.QUANTILES, description="Quantile levels in (0, 1) forecast.")
    n_jobs: int = Field(1, ge=1, description="Worker processes; >1 spreads chunks of series over a pool.")
    chunk_size: int = Field(
        250, ge=1, description="Series per work chunk (a chunk is one statsforecast call in one worker)."
    )
    # --- classification -------------------------------------------------------------------------
    adi_threshold: float = Field(1.32, gt=0, description="ADI at or above which demand is intermittent.")
    cv2_threshold: float = Field(0.49, ge=0, description="CV² of sizes at or above which demand is erratic.")
    new_weeks: int = Field(13, ge=1, description="A series with fewer weeks of life than this is `new`.")
    inactive_weeks: int = Field(
        13, ge=1, description="No demand in this many last weeks → `inactive`, forecast zero."
    )
    short_seasons: float = Field(
        2.0, gt=0, description="Fewer than this many seasons of life → `short` (no seasonal models)."
    )
    # --- backtest and selection -----------------------------------------------------------------
    min_train_weeks: int = Field(
        26, ge=2, description="Fewest training weeks before the oldest backtest origin of a series."
    )
    mase_season: int = Field(
        1, ge=1, description="Lag of the in-sample naive forecast scaling MASE (1 = M4 weekly convention)."
    )
    score_decimals: int = Field(
        3, ge=0, description="Scores are compared rounded to this many decimals; ties go to the simpler model."
    )
    seasonal_models: tuple[str, ...] = Field(
        ("Naive", "SeasonalNaive", "SES", "Theta", "ETS", "MSTL", "Mean(ETS,Theta,SeasonalNaive)"),
        description="Candidates for smooth and erratic series with at least `short_seasons` seasons.",
    )
    short_models: tuple[str, ...] = Field(
        ("Naive", "HistoricAverage", "SES", "ETS", "Theta"),
        description="Candidates for `short` series with ADI below the threshold (no seasonal model).",
    )
    intermittent_models: tuple[str, ...] = Field(
        ("HistoricAverage", "CrostonSBA", "TSB", "ADIDA", "IMAPA"),
        description="Candidates for intermittent and lumpy series (and short ones with ADI ≥ threshold). "
        "Keep Naive out: MAE-type scores reward the all-zero forecast it makes after a zero week.",
    )
    # --- bands where no backtest errors exist -----------------------------------------------------
    rule_band_cv: float = Field(
        1.0, gt=0, description="Coefficient of variation of the lognormal band of new / unscored series."
    )

    @model_validator(mode="after")
    def _check(self) -> ForecastConfig:
        if not self.quantiles or any(not 0 < q < 1 for q in self.quantiles):
            raise ValueError(f"quantiles must be a non-empty tuple of levels in (0, 1), got {self.quantiles}")
        if self.freq != "1w":
            raise ValueError(f"only weekly series are supported (freq '1w'), got {self.freq!r}")
        return self

    def step(self, horizon: int) -> int:
        """Weeks between backtest origins for ``horizon``."""
        return self.backtest_step or horizon
