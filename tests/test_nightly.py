"""The nightly refresh: a fresh forecast, no plan, and the accuracy of past runs' forecasts by lag."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from flows.nightly import nightly_refresh
from flows.settings import RunParameters
from flows.weekly import weekly_planning
from optimization import PlanConfig
from demo.network import DEMO_RUN_DATE, demo_network, write_demo

pytestmark = pytest.mark.slow

LATER = DEMO_RUN_DATE + timedelta(weeks=5)


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly")
    # the exports of two dates: the weekly plan's, and five weeks later the nightly refresh's
    write_demo(demo_network(products=6, dcs=2, weeks_history=90, seed=5), root / "then")
    write_demo(demo_network(products=6, dcs=2, weeks_history=95, seed=5, run_date=LATER), root / "now")
    warehouse = root / "warehouse.duckdb"
    weekly = weekly_planning(RunParameters(input_dir=root / "then", warehouse=warehouse, run_date=DEMO_RUN_DATE,
                                           plan=PlanConfig(horizon_weeks=8)))
    nightly = nightly_refresh(RunParameters(input_dir=root / "now", warehouse=warehouse, run_date=LATER))
    con = duckdb.connect(str(warehouse), read_only=True)
    yield weekly, nightly, con
    con.close()


def test_nightly_run_forecasts_without_planning(refreshed):
    _, nightly, con = refreshed
    assert con.execute("SELECT kind, status, solver FROM runs WHERE run_id = ?", [nightly]).fetchone() == (
        "nightly_refresh", "success", None)
    assert con.execute("SELECT count(*) FROM forecast WHERE run_id = ?", [nightly]).fetchone()[0] > 0
    assert con.execute("SELECT count(*) FROM plan_production WHERE run_id = ?", [nightly]).fetchone()[0] == 0


def test_accuracy_of_the_weekly_forecast_is_measured_by_lag(refreshed):
    weekly, nightly, con = refreshed
    rows = con.execute(
        "SELECT level, lag, wape, n_weeks FROM forecast_accuracy WHERE run_id = ? AND level = 'total' ORDER BY lag",
        [nightly],
    ).fetchall()
    lags = {lag: (wape, n) for _, lag, wape, n in rows}
    assert set(lags) >= {1, 4}  # the weekly run's weeks 1..5 have happened since
    assert all(w is not None and w >= 0 and n > 0 for w, n in lags.values())
    # recompute the lag-1 total WAPE by hand from the stored forecast and the nightly run's history: the
    # forecaster's own mean (the stored mean less what the booked orders added to the plan's demand)
    week1 = DEMO_RUN_DATE - timedelta(days=DEMO_RUN_DATE.weekday())  # lag 1 = the first forecast week
    err, actual = con.execute(
        """SELECT sum(abs(f.mean - coalesce(f.booked_added, 0) - h.quantity)), sum(h.quantity)
           FROM forecast f JOIN demand_history h USING (product_id, site_id, week)
           WHERE f.run_id = ? AND h.run_id = ? AND f.week = ? AND f.model <> 'booked'""",
        [weekly, nightly, week1],
    ).fetchone()
    assert lags[1][0] == pytest.approx(err / actual, rel=1e-9)
    families = con.execute("SELECT count(DISTINCT key) FROM forecast_accuracy WHERE run_id = ? AND level = "
                           "'family'", [nightly]).fetchone()[0]
    assert families >= 2
