"""What-if scenarios: the file format (with line numbers in every refusal), applying changes to tiny frames
checked by hand, and scenario runs through the real flow that move the plan in a known direction."""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import polars as pl
import pytest
from _outputs_warehouse import CLOSED_DC, build
from typer.testing import CliRunner

from data_contracts import schema
from cli.main import app
from report.page import report_path, write_report
from optimization.scenario import ScenarioError, parse_scenario
from optimization.scenario_apply import apply_scenario, scenario_orders
from optimization.scenario_check import check_scenario

W0 = date(2026, 5, 4)  # a Monday
WEEKS = [W0 + timedelta(weeks=k) for k in range(3)]


# ---------------------------------------------------------------------------------------------- tiny inputs
def _inputs() -> dict[str, pl.DataFrame]:
    def frame(table: schema.Table, rows: list[dict]) -> pl.DataFrame:
        return pl.DataFrame(rows, schema=table.schema)

    return {
        "products": frame(schema.PRODUCTS, [
            {"product_id": "P1", "name": "p1", "family": "vac", "unit": "doses", "shelf_life_weeks": None,
             "unit_cost": 1.0, "holding_cost_per_week": 0.1, "backlog_penalty": 10.0, "priority": 1,
             "service_level": 0.95},
            {"product_id": "P2", "name": "p2", "family": "mab", "unit": "vials", "shelf_life_weeks": None,
             "unit_cost": 1.0, "holding_cost_per_week": 0.1, "backlog_penalty": 10.0, "priority": 2,
             "service_level": 0.90}]),
        "sites": frame(schema.SITES, [
            {"site_id": "PL", "name": "plant", "site_type": "plant", "region": "EU"},
            {"site_id": "D1", "name": "dc1", "site_type": "dc", "region": "EU"},
            {"site_id": "D2", "name": "dc2", "site_type": "dc", "region": "EU"}]),
        "resources": frame(schema.RESOURCES, [
            {"resource_id": "R1", "site_id": "PL", "name": "r1", "hours_per_week": 100.0},
            {"resource_id": "R2", "site_id": "PL", "name": "r2", "hours_per_week": 50.0}]),
        "routings": frame(schema.ROUTINGS, [
            {"product_id": "P1", "resource_id": "R1", "hours_per_unit": 1.0, "yield": 0.9, "cost_per_unit": 1.0,
             "release_weeks": 1, "min_batch": None, "batch_size": None},
            {"product_id": "P2", "resource_id": "R2", "hours_per_unit": 1.0, "yield": 0.8, "cost_per_unit": 1.0,
             "release_weeks": 1, "min_batch": None, "batch_size": None}]),
        "lanes": frame(schema.LANES, [
            {"from_site": "PL", "to_site": "D1", "lead_time_weeks": 1, "cost_per_unit": 1.0,
             "capacity_per_week": None},
            {"from_site": "PL", "to_site": "D2", "lead_time_weeks": 2, "cost_per_unit": 1.0,
             "capacity_per_week": None}]),
        # R1 already has a maintenance week: 40 hours in the second week
        "calendar": frame(schema.CALENDAR, [{"resource_id": "R1", "week": WEEKS[1], "hours_available": 40.0}]),
    }


def _forecast() -> pl.DataFrame:
    rows = [{"product_id": p, "site_id": s, "week": w, "model": "m", "mean": 10.0,
             **{schema.quantile_column(q): 10.0 * q * 2 for q in schema.QUANTILES}}
            for p in ("P1", "P2") for s in ("D1", "D2") for w in WEEKS]
    return pl.DataFrame(rows, schema=schema.FORECAST.schema).drop("run_id")


def _apply(text: str):
    parsed = parse_scenario(text)
    check_scenario(parsed, _inputs())
    return apply_scenario(parsed.scenario, _inputs(), _forecast(), W0, len(WEEKS))


def _hours(calendar: pl.DataFrame, resource: str) -> list[float | None]:
    by_week = dict(calendar.filter(pl.col("resource_id") == resource).select("week", "hours_available").iter_rows())
    return [by_week.get(w) for w in WEEKS]


def test_capacity_percent_applies_to_the_calendar_hours_of_those_weeks():
    inputs, _ = _apply(f"name: s\ncapacity:\n  - {{resource: R1, percent: 50, start: {WEEKS[1]}}}\n")
    # week 0 untouched (normal 100 h), week 1 maintenance 40 h → 60 h, week 2 100 h → 150 h
    assert _hours(inputs["calendar"], "R1") == [100.0, 60.0, 150.0]
    assert _hours(inputs["calendar"], "R2") == [None, None, None]  # not touched: no calendar rows


def test_capacity_hours_set_then_a_shutdown_wins():
    inputs, _ = _apply("name: s\ncapacity:\n  - {resource: R2, hours: 70}\n"
                       f"shutdowns:\n  - {{resource: R2, start: {WEEKS[2] + timedelta(days=3)}, end: {WEEKS[2]}}}\n")
    assert _hours(inputs["calendar"], "R2") == [70.0, 70.0, 0.0]
    assert _hours(inputs["calendar"], "R1") == [None, 40.0, None]  # R1's own calendar row is kept


def test_demand_changes_scale_or_add_to_mean_and_quantiles():
    _, fc = _apply("name: s\ndemand:\n  - {family: vac, multiplier: 1.5}\n"
                   f"  - {{product: P2, site: D2, units: -25, end: {WEEKS[0]}}}\n")
    got = {(p, s, w): (m, q) for p, s, w, m, q in fc.select("product_id", "site_id", "week", "mean", "q95").iter_rows()}
    assert got[("P1", "D1", WEEKS[0])] == (15.0, pytest.approx(28.5))
    assert got[("P2", "D1", WEEKS[0])] == (10.0, pytest.approx(19.0))
    assert got[("P2", "D2", WEEKS[0])] == (0.0, 0.0)  # 10 − 25 floored at 0
    assert got[("P2", "D2", WEEKS[1])] == (10.0, pytest.approx(19.0))
    assert fc.columns == _forecast().columns


def test_lanes_yields_and_service_levels():
    inputs, _ = _apply("name: s\nlanes:\n  - {from_site: PL, to_site: D1, close: true}\n"
                       "  - {from_site: PL, to_site: D2, lead_time_weeks: 4}\n"
                       "yields:\n  - {product: P1, yield: 0.5}\n  - {product: P2, multiplier: 2}\n"
                       "service_levels:\n  - {family: mab, service_level: 0.99}\n")
    assert inputs["lanes"].select("to_site", "lead_time_weeks").rows() == [("D2", 4)]
    assert dict(inputs["routings"].select("product_id", "yield").iter_rows()) == {"P1": 0.5, "P2": 1.0}
    assert dict(inputs["products"].select("product_id", "service_level").iter_rows()) == {"P1": 0.95, "P2": 0.99}


def test_release_lag_set_on_every_routing_of_a_product_or_one():
    inputs, _ = _apply("name: s\nrelease:\n  - {product: P1, release_weeks: 0}\n"
                       "  - {product: P2, resource: R2, release_weeks: 3}\n")
    assert dict(inputs["routings"].select("product_id", "release_weeks").iter_rows()) == {"P1": 0, "P2": 3}
    assert inputs["routings"].schema == _inputs()["routings"].schema


def test_a_faster_release_serves_what_the_lag_left_short():
    # A on R (100 h a week, 1 h a unit) at P, no transit to D, 300 wanted in week 2. Released 2 weeks after
    # its start only week 0's 100 units arrive in time (200 short); released a week faster, weeks 0 and 1
    # make 200 (100 short)
    from optimization import PlanConfig, build_network, plan_supply
    from optimization import examples as ex

    cfg = PlanConfig(horizon_weeks=4, terminal_condition=False)
    base = ex.inputs(routings=ex.routings(dict(product_id="A", resource_id="R", release_weeks=2)))
    parsed = parse_scenario("name: qc-faster\nrelease:\n  - {product: A, release_weeks: 1}\n")
    check_scenario(parsed, base)
    demand = ex.demand(dict(product_id="A", site_id="D", t=2, quantity=300.0))

    def short(inputs: dict[str, pl.DataFrame]) -> float:
        r = plan_supply(build_network(inputs, ex.START, cfg), demand, pl.DataFrame(), cfg)
        return r.tables["plan_backlog"].filter(pl.col("week") == ex.week(2))["backlog"].item()

    faster, _ = apply_scenario(parsed.scenario, base, _forecast(), ex.START, 4)
    assert short(base) == pytest.approx(200.0)
    assert short(faster) == pytest.approx(100.0)


def test_a_tender_is_booked_and_survives_a_demand_cut_in_the_same_file():
    # P1 at D1: forecast 10 a week, 8 already booked in week 0. The file halves P1 and books a tender of 30
    # in weeks 0 and 1 (given as a Thursday): week 0 plans max(5, 8 + 30) = 38, week 1 max(5, 30) = 30,
    # week 2 the cut forecast, 5
    from forecasting.consensus import consume_forecast

    parsed = parse_scenario(f"name: tender\ndemand:\n  - {{product: P1, multiplier: 0.5}}\norders:\n"
                            f"  - {{product: P1, site: D1, week: {WEEKS[0]}, quantity: 30}}\n"
                            f"  - {{product: P1, site: D1, week: {WEEKS[1] + timedelta(days=3)}, quantity: 30}}\n")
    check_scenario(parsed, _inputs(), (WEEKS[0], WEEKS[-1]))
    booked = pl.DataFrame({"product_id": ["P1"], "site_id": ["D1"], "week": [WEEKS[0]], "quantity": [8.0]})
    _, fc = apply_scenario(parsed.scenario, _inputs(), _forecast(), W0, len(WEEKS))
    planned = consume_forecast(fc, scenario_orders(parsed.scenario, booked))
    at = {w: m for w, m in planned.filter((pl.col("product_id") == "P1") & (pl.col("site_id") == "D1"))
          .select("week", "mean").iter_rows()}
    assert at == {WEEKS[0]: 38.0, WEEKS[1]: 30.0, WEEKS[2]: 5.0}
    assert scenario_orders(parse_scenario("name: s\n").scenario, booked).equals(booked)


@pytest.mark.parametrize(("text", "line", "words"), [
    ("name: s\norders:\n  - {product: P1, site: D1, week: 2026-05-04, quantity: 0}\n", 3, "quantity"),
    ("name: s\norders:\n  - {product: P1, site: D1, quantity: 5}\n", 3, "week"),
    ("name: s\ncapacity:\n  - resource: R1\n    percent: 50\n  - resource: R2\n    percnt: 5\n", 6, "percnt"),
    ("name: s\nrelease:\n  - {product: P1, release_weeks: -1}\n", 3, "release_weeks"),
    ("name: s\nrelease:\n  - {product: P1, weeks: 1}\n", 3, "release_weeks"),
    ("name: s\ncapacity:\n  - resource: R1\n    percent: 50\n    hours: 3\n", 3, "exactly one of hours, percent"),
    ("name: s\ndemand:\n  - {family: vac}\n", 3, "exactly one of multiplier, units"),
    ("name: s\nshutdowns:\n  - resource: R1\n    start: 2026-06-08\n    end: 2026-06-01\n", 3, "before the week of start"),
    ("name: s\nyields:\n  - product: P1\n    yield: 1.5\n", 4, "yield"),
    ("name: s\nlanes:\n  - {from_site: PL, to_site: D1}\n", 3, "close, lead_time_weeks"),
    ("name: s\ncapacity:\n  - resource: R1\n     percent: 5\n", 4, "not valid YAML"),
    ("name: base\n", 1, "base"),
    ("name: s\nwhatever: 1\n", 2, "whatever"),
    ("- just a list\n", 1, "mapping"),
])
def test_a_malformed_scenario_file_is_refused_naming_the_line(text, line, words):
    with pytest.raises(ScenarioError, match=rf"line {line}:.*{words}"):
        parse_scenario(text, "s.yaml")


@pytest.mark.parametrize(("text", "line", "words"), [
    ("name: s\n\ncapacity:\n  - {resource: R1, percent: 5}\n  - {resource: R9, percent: 5}\n", 5,
     "unknown resource 'R9'"),
    ("name: s\ndemand:\n  - product: P7\n    multiplier: 2\n", 3, "unknown product 'P7'"),
    ("name: s\ndemand:\n  - multiplier: 2\n    family: flu\n", 4, "unknown family 'flu'"),
    ("name: s\nlanes:\n  - {from_site: D1, to_site: D2, close: true}\n", 3, "unknown lane D1 -> D2"),
    ("name: s\nyields:\n  - {product: P1, resource: R2, yield: 0.5}\n", 3, "no routing makes 'P1' on 'R2'"),
    ("name: s\nrelease:\n  - {product: P1, release_weeks: 0}\n  - {product: P1, resource: R2, release_weeks: 0}\n",
     4, "release\\[1\\]: no routing makes 'P1' on 'R2'"),
    ("name: s\nrelease:\n  - {product: P9, release_weeks: 0}\n", 3, "unknown product 'P9'"),
    ("name: s\norders:\n  - {product: P1, site: D9, week: 2026-05-04, quantity: 5}\n", 3, "unknown site 'D9'"),
    ("name: s\norders:\n  - product: P1\n    site: D1\n    week: 2026-05-25\n    quantity: 5\n", 5,
     "orders\\[0\\].week: 2026-05-25 is outside the planned weeks 2026-05-04 to 2026-05-18"),
])
def test_a_scenario_naming_unknown_keys_is_refused_naming_the_line(text, line, words):
    parsed = parse_scenario(text, "s.yaml")
    with pytest.raises(ScenarioError, match=rf"s\.yaml line {line}: .*{words}"):
        check_scenario(parsed, _inputs(), (WEEKS[0], WEEKS[-1]))


# ---------------------------------------------------------------------------------------------- campaigns
def _campaign_inputs() -> dict[str, pl.DataFrame]:
    """The tiny inputs with R1 a campaign suite making P1 and P2 (P1 → P2 named at the plant's site, P2 → P1
    on R1 itself)."""
    inputs = _inputs()
    inputs["resources"] = inputs["resources"].with_columns(
        campaign=pl.col("resource_id") == "R1",
        changeover_hours=pl.when(pl.col("resource_id") == "R1").then(20.0).otherwise(0.0),
        changeover_cost=pl.when(pl.col("resource_id") == "R1").then(500.0).otherwise(0.0),
        min_campaign_weeks=pl.when(pl.col("resource_id") == "R1").then(2).otherwise(1),
        max_campaign_weeks=pl.when(pl.col("resource_id") == "R1").then(pl.lit(3, pl.Int64)),
    )
    r = inputs["routings"]
    inputs["routings"] = pl.concat([r, r.filter(pl.col("product_id") == "P2").with_columns(resource_id=pl.lit("R1"))])
    inputs["changeovers"] = pl.DataFrame(
        [{"resource_id": None, "site_id": "PL", "from_product_id": "P1", "to_product_id": "P2", "hours": 30.0,
          "cost": 900.0},
         {"resource_id": "R1", "site_id": None, "from_product_id": "P2", "to_product_id": "P1", "hours": 10.0,
          "cost": 100.0}], schema=schema.CHANGEOVERS.schema)
    return inputs


def _apply_campaigns(text: str):
    parsed = parse_scenario(text, "c.yaml")
    check_scenario(parsed, _campaign_inputs())
    return apply_scenario(parsed.scenario, _campaign_inputs(), _forecast(), W0, len(WEEKS))[0]


def _resource(inputs, resource: str) -> dict:
    return inputs["resources"].filter(pl.col("resource_id") == resource).to_dicts()[0]


def test_campaign_settings_of_a_resource_are_set_in_file_order():
    inputs = _apply_campaigns("name: s\ncampaigns:\n  - {resource: R1, changeover_hours: 4, min_campaign_weeks: 1}\n"
                              "  - {resource: R1, changeover_hours: 2, max_campaign_weeks: 6, changeover_cost: 0}\n")
    r1 = _resource(inputs, "R1")
    assert (r1["campaign"], r1["changeover_hours"], r1["changeover_cost"], r1["min_campaign_weeks"],
            r1["max_campaign_weeks"]) == (True, 2.0, 0.0, 1, 6)
    assert _resource(inputs, "R2") == _resource(_campaign_inputs(), "R2")
    assert inputs["changeovers"].equals(_campaign_inputs()["changeovers"])  # named switches keep theirs


def test_a_named_switch_becomes_the_resources_own_row_keeping_the_value_not_given():
    inputs = _apply_campaigns("name: s\ncampaigns:\n  - {resource: R1, from_product: P1, to_product: P2, "
                              "changeover_hours: 6}\n  - {resource: R1, from_product: P2, to_product: P1, "
                              "changeover_cost: 50}\n")
    rows = {(r["resource_id"], r["site_id"], r["from_product_id"]): (r["hours"], r["cost"])
            for r in inputs["changeovers"].to_dicts()}
    assert rows == {
        (None, "PL", "P1"): (30.0, 900.0),  # the site's row stays (other suites of the site)
        ("R1", None, "P1"): (6.0, 900.0),  # cost from the site's row
        ("R1", None, "P2"): (10.0, 50.0),  # R1's own row changed
    }
    fallback = _apply_campaigns("name: s\ncampaigns:\n  - {resource: R2, campaign: true}\n"
                                "  - {resource: R2, changeover_hours: 7}\n"
                                "  - {resource: R1, from_product: P2, to_product: P1, changeover_cost: 5}\n")
    assert fallback["changeovers"].filter(pl.col("resource_id") == "R1").select("hours", "cost").rows() == [
        (10.0, 5.0)]


def test_a_percent_on_changeover_hours_changes_every_switch_of_the_resource_named_ones_included():
    inputs = _apply_campaigns("name: s\ncampaigns:\n  - {resource: R1, changeover_hours_percent: -50}\n")
    assert _resource(inputs, "R1")["changeover_hours"] == 10.0
    rows = {(r["resource_id"], r["site_id"], r["from_product_id"]): (r["hours"], r["cost"])
            for r in inputs["changeovers"].to_dicts()}
    assert rows == {
        (None, "PL", "P1"): (30.0, 900.0),  # the site's row, for the site's other suites
        ("R1", None, "P1"): (15.0, 900.0),  # the site's switch, now R1's own, halved
        ("R1", None, "P2"): (5.0, 100.0),  # R1's own switch halved
    }


def test_switching_campaigns_off_plans_the_resource_freely_and_drops_its_own_switches():
    inputs = _apply_campaigns("name: s\ncampaigns:\n  - {resource: R1, campaign: false}\n")
    assert _resource(inputs, "R1")["campaign"] is False
    assert inputs["changeovers"]["resource_id"].null_count() == inputs["changeovers"].height == 1  # the site row
    on = _apply_campaigns("name: s\ncampaigns:\n  - {resource: R2, campaign: true, changeover_hours: 8}\n")
    assert (_resource(on, "R2")["campaign"], _resource(on, "R2")["changeover_hours"]) == (True, 8.0)


@pytest.mark.parametrize(("text", "line", "words"), [
    ("name: s\ncampaigns:\n  - resource: R1\n    changeover_hours: -5\n", 4, "greater than or equal to 0"),
    ("name: s\ncampaigns:\n  - {resource: R1}\n", 3, "at least one of campaign"),
    ("name: s\ncampaigns:\n  - {resource: R1, from_product: P1, changeover_hours: 1}\n", 3, "both from_product"),
    ("name: s\ncampaigns:\n  - {resource: R1, from_product: P1, to_product: P2, min_campaign_weeks: 2}\n", 3,
     "sets only changeover_hours and changeover_cost"),
    ("name: s\ncampaigns:\n  - {resource: R1, min_campaign_weeks: 5, max_campaign_weeks: 4}\n", 3,
     "min_campaign_weeks 5 is above max_campaign_weeks 4"),
    ("name: s\ncampaigns:\n  - {resource: R1, campaign: false, changeover_hours: 3}\n", 3, "would not apply"),
    ("name: s\ncampaigns:\n  - {resource: R1, chngeover_hours: 3}\n", 3, "chngeover_hours"),
    ("name: s\ncampaigns:\n  - {resource: R1, changeover_hours: 3, changeover_hours_percent: -10}\n", 3,
     "at most one of changeover_hours, changeover_hours_percent"),
    ("name: s\ncampaigns:\n  - {resource: R1, changeover_hours_percent: -101}\n", 3, "greater than or equal to -100"),
])
def test_a_malformed_campaign_change_is_refused_naming_the_line(text, line, words):
    with pytest.raises(ScenarioError, match=rf"c\.yaml line {line}:.*{words}"):
        parse_scenario(text, "c.yaml")


@pytest.mark.parametrize(("text", "line", "words"), [
    ("name: s\ncampaigns:\n  - {resource: R1, changeover_hours: 3}\n  - {resource: R7, changeover_hours: 3}\n", 4,
     "unknown resource 'R7'"),
    ("name: s\ncampaigns:\n  - resource: R1\n    from_product: P1\n    to_product: P9\n    changeover_hours: 1\n",
     5, "unknown product 'P9'"),
    ("name: s\ncampaigns:\n  - {resource: R2, from_product: P2, to_product: P1, changeover_hours: 1}\n", 3,
     "no routing makes 'P1' on 'R2'"),
    ("name: s\ncampaigns:\n  - {resource: R2, changeover_hours: 4}\n", 3,
     "changeover_hours on 'R2', which is not campaign-run"),
    ("name: s\ncampaigns:\n  - {resource: R1, campaign: false}\n  - {resource: R1, min_campaign_weeks: 2}\n", 4,
     "min_campaign_weeks on 'R1', which is not campaign-run"),
    ("name: s\ncampaigns:\n  - {resource: R1, changeover_hours: 1}\n  - {resource: R1, min_campaign_weeks: 4}\n", 4,
     "after the change 'R1' has min_campaign_weeks 4 above max_campaign_weeks 3"),
])
def test_a_campaign_change_the_network_cannot_take_is_refused_naming_the_line(text, line, words):
    parsed = parse_scenario(text, "c.yaml")
    with pytest.raises(ScenarioError, match=rf"c\.yaml line {line}: .*{words}"):
        check_scenario(parsed, _campaign_inputs())


def test_turning_campaigns_on_makes_the_campaign_fields_of_that_file_valid():
    parsed = parse_scenario("name: s\ncampaigns:\n  - {resource: R2, min_campaign_weeks: 2}\n"
                            "  - {resource: R2, campaign: true}\n", "c.yaml")
    check_scenario(parsed, _campaign_inputs())  # the state after the file's changes counts


# ---------------------------------------------------------------------------------------------- flows
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory)


def _rows(warehouse, sql: str, *params):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _q(built, sql: str, *params):
    return _rows(built.warehouse, sql, *params)


def _kpi(built, run_id: str, kpi: str) -> float:
    return _q(built, "SELECT value FROM plan_kpis WHERE run_id = ? AND kpi = ?", run_id, kpi)[0][0]


@pytest.mark.slow
def test_a_scenario_is_stored_as_a_run_with_its_name_changes_and_inputs(built):
    (kind, scenario, base, status, parameters), = _q(
        built, "SELECT kind, scenario, base_run_id, status, parameters FROM runs WHERE run_id = ?", built.lanes_run)
    assert (kind, scenario, base, status) == ("scenario", "close-eu-n", built.base_run, "success")
    changes = json.loads(parameters)["scenario_changes"]
    assert [lane["to_site"] for lane in changes["lanes"]] == [CLOSED_DC, CLOSED_DC]
    lanes = _q(built, "SELECT count(*) FILTER (WHERE to_site = ?), count(*) FROM clean_lanes WHERE run_id = ?",
               CLOSED_DC, built.lanes_run)[0]
    base_lanes = _q(built, "SELECT count(*) FROM clean_lanes WHERE run_id = ?", built.base_run)[0][0]
    assert lanes == (0, base_lanes - 2)


@pytest.mark.slow
def test_closing_the_only_lanes_to_a_dc_creates_backlog_there(built):
    def backlog(run_id: str) -> dict[str, float]:
        return dict(_q(built, "SELECT site_id, sum(backlog) FROM plan_backlog WHERE run_id = ? GROUP BY 1", run_id))

    before, after = backlog(built.base_run), backlog(built.lanes_run)
    assert after[CLOSED_DC] > before[CLOSED_DC] + 1000
    for site in before.keys() - {CLOSED_DC}:
        assert after[site] <= before[site] + 1e-6
    reasons = {r for (r,) in _q(built, "SELECT DISTINCT reason FROM plan_shortages WHERE run_id = ? AND site_id = ?",
                                built.lanes_run, CLOSED_DC)}
    assert "no_route" in reasons
    assert _kpi(built, built.lanes_run, "fill_rate_units") < _kpi(built, built.base_run, "fill_rate_units")


@pytest.mark.slow
def test_more_capacity_on_the_bottleneck_improves_service(built):
    """+50% hours on the bottleneck of the tight scenario recover service where it is worth most.

    Since the plan values the stock it leaves (the terminal condition), that need not be inside the
    8-week horizon: on this network the extra hours of US-BR01 make ERT-01 (1.7 h a unit, a large
    penalty) for the weeks after it rather than BIO-01's backlog inside it, so the on-time fill rate may
    stay put while the service penalties fall and the end position rises. Before the terminal condition
    the same hours could only go to the horizon and this test asserted a higher fill rate.
    """
    tight = _kpi(built, built.tight_run, "fill_rate_units")
    more = _kpi(built, built.capacity_run, "fill_rate_units")
    assert tight < _kpi(built, built.base_run, "fill_rate_units")
    assert more >= tight - 1e-9
    penalties = {r: _kpi(built, r, "service_penalties") for r in (built.tight_run, built.capacity_run)}
    assert penalties[built.capacity_run] < 0.99 * penalties[built.tight_run]
    position = {r: _kpi(built, r, "end_position_units") for r in (built.tight_run, built.capacity_run)}
    assert more > tight + 1e-4 or position[built.capacity_run] > position[built.tight_run] + 1.0
    hours = dict(_q(built, "SELECT run_id, sum(hours_available) FROM plan_capacity WHERE resource_id = ? "
                           "AND run_id IN (?, ?) GROUP BY 1", built.bottleneck, built.tight_run, built.capacity_run))
    assert hours[built.capacity_run] == pytest.approx(1.5 * hours[built.tight_run])


@pytest.mark.slow
def test_plantwin_scenario_run_refuses_a_bad_file_naming_the_line(built, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ncapacity:\n  - resource: US-FL01\n    percent: 10\n  - resource: XX-NOPE\n"
                   "    hours: 3\n")
    runs_before = _q(built, "SELECT count(*) FROM runs")[0][0]
    result = CliRunner().invoke(app, ["scenario", "run", str(bad), "--warehouse", str(built.warehouse)])
    assert result.exit_code == 2
    assert "bad.yaml line 5" in result.output and "unknown resource 'XX-NOPE'" in result.output
    assert _q(built, "SELECT count(*) FROM runs")[0][0] == runs_before  # refused before any run was opened


@pytest.mark.slow
def test_plantwin_scenario_compare_prints_the_differences_and_writes_the_report(built):
    target = report_path(built.warehouse, built.lanes_run)
    target.unlink(missing_ok=True)
    result = CliRunner().invoke(app, ["scenario", "compare", "base", "close-eu-n", "--warehouse",
                                      str(built.warehouse)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"A = base ({built.base_run})" in out and f"B = close-eu-n ({built.lanes_run})" in out
    appear = out.split("shortages that appear in B")[1].split("shortages that vanish")[0]
    assert CLOSED_DC in appear
    for word in ("cost_total", "fill_rate_units", "capacity (utilisation", "largest stock changes"):
        assert word in out
    assert '<section id="comparison">' in target.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- campaign flows
@pytest.fixture(scope="module")
def campaign_wh(tmp_path_factory):
    """A small campaign network (three bioreactor suites in campaigns, 16-hour switches, 2–8 week campaigns)
    planned for 8 weeks without Prefect, and three scenarios on it: every suite's campaigns capped at 2 weeks
    (switches forced), the same with 4-hour switches, every suite run freely, and a filling line run in
    campaigns."""
    from demo.network import DEMO_RUN_DATE, demo_network, write_demo
    from flows import pipeline
    from flows.settings import RunParameters
    from flows.stages_scenario import scenario_parameters
    from optimization import PlanConfig

    root = tmp_path_factory.mktemp("campaigns")
    net = demo_network(products=8, dcs=2, weeks_history=104, seed=3, campaigns=True)
    write_demo(net, root / "input")
    warehouse = root / "wh" / "warehouse.duckdb"
    base = pipeline.weekly(RunParameters(input_dir=root / "input", warehouse=warehouse, run_date=DEMO_RUN_DATE,
                                         plan=PlanConfig(horizon_weeks=8, campaign_time_limit_seconds=10)))
    suites = sorted(net["resources"].filter(pl.col("campaign"))["resource_id"])
    pairs = net["changeovers"].filter(pl.col("resource_id").is_not_null())
    assert len(suites) >= 2 and pairs.height > 0  # the network this test is about
    max2 = "".join(f"  - {{resource: {r}, max_campaign_weeks: 2}}\n" for r in suites)
    files = {
        "max2": "name: max2\ncampaigns:\n" + max2,
        "max2-short": "name: max2-short\ncampaigns:\n" + max2
        + "".join(f"  - {{resource: {r}, changeover_hours: 4}}\n" for r in suites)
        + "".join(f"  - {{resource: {r}, from_product: {f}, to_product: {t}, changeover_hours: 2}}\n"
                  for r, f, t in pairs.select("resource_id", "from_product_id", "to_product_id").iter_rows()),
        "suites-free": "name: suites-free\ncampaigns:\n"
        + "".join(f"  - {{resource: {r}, campaign: false}}\n" for r in suites),
        "filling-in-campaigns": "name: filling-in-campaigns\ncampaigns:\n  - {resource: US-FL01, campaign: true, "
        "changeover_hours: 8, changeover_cost: 1000, min_campaign_weeks: 2}\n",
    }
    runs = {}
    for name, text in files.items():
        (root / f"{name}.yaml").write_text(text)
        runs[name] = pipeline.scenario(scenario_parameters(warehouse, root / f"{name}.yaml", base))
    return warehouse, base, suites, runs


@pytest.mark.slow
def test_shorter_changeovers_lose_fewer_hours_and_the_comparison_shows_it(campaign_wh):
    warehouse, _, suites, runs = campaign_wh
    lost = dict(_rows(warehouse, "SELECT run_id, sum(changeover_hours) FROM plan_campaigns WHERE run_id IN (?, ?) "
                                 "GROUP BY 1", runs["max2"], runs["max2-short"]))
    assert lost[runs["max2"]] > 0  # campaigns of at most 2 weeks in 8: switches happen
    assert lost[runs["max2-short"]] <= lost[runs["max2"]] - 1.0
    # the scenario's settings are what the run planned on
    hours = dict(_rows(warehouse, "SELECT run_id, max(changeover_hours) FROM clean_resources WHERE campaign "
                                  "AND run_id IN (?, ?) GROUP BY 1", runs["max2"], runs["max2-short"]))
    assert hours == {runs["max2"]: 16.0, runs["max2-short"]: 4.0}
    result = CliRunner().invoke(app, ["scenario", "compare", "max2", "max2-short", "--warehouse", str(warehouse),
                                      "--no-report"])
    assert result.exit_code == 0, result.output
    out = result.output
    kpi = next(line for line in out.splitlines() if line.strip().startswith("changeover_hours"))
    assert kpi.split()[-1].startswith("-")  # B − A below zero
    section = out.split("campaigns (A → B per campaign resource")[1].split("largest stock changes")[0]
    for r in suites:
        assert r in section
    assert "campaigns → campaigns" in section and "changeovers" in section


@pytest.mark.slow
def test_a_suite_switched_off_campaigns_plans_as_an_lp_resource(campaign_wh):
    warehouse, base, suites, runs = campaign_wh
    free = runs["suites-free"]
    assert _rows(warehouse, "SELECT count(*) FROM plan_campaigns WHERE run_id = ?", free) == [(0,)]
    kpis = {k for (k,) in _rows(warehouse, "SELECT kpi FROM plan_kpis WHERE run_id = ?", free)}
    assert not kpis & {"campaigns", "changeovers", "changeover_hours"}  # no campaign resource: an LP plan
    assert _rows(warehouse, "SELECT count(*) FROM clean_resources WHERE run_id = ? AND campaign", free) == [(0,)]
    assert _rows(warehouse, "SELECT count(*) FROM clean_changeovers WHERE run_id = ? AND resource_id IS NOT NULL",
                 free) == [(0,)]  # the suites' own switches went with their campaigns
    assert _rows(warehouse, "SELECT count(*) FROM plan_capacity WHERE run_id = ? AND resource_id = ?",
                 free, suites[0])[0][0] == 8  # still planned, every week
    result = CliRunner().invoke(app, ["scenario", "compare", base, "suites-free", "--warehouse", str(warehouse),
                                      "--no-report"])
    assert result.exit_code == 0, result.output
    assert all(f"{r:<12} campaigns → freely" in result.output for r in suites)
    page = write_report(warehouse, free, compare_to=base, latest=False).read_text(encoding="utf-8")
    campaigns = page.split("<h3>Campaigns</h3>")[1].split("</table>")[0]
    assert all(f"<td>{r}</td><td>campaigns → freely</td>" in campaigns for r in suites)


@pytest.mark.slow
def test_plantwin_scenario_run_refuses_a_campaign_change_naming_the_line(campaign_wh, tmp_path):
    warehouse, base, suites, _ = campaign_wh
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: bad\ncampaigns:\n  - {{resource: {suites[0]}, changeover_hours: 4}}\n"
                   f"  - {{resource: {suites[0]}, min_campaign_weeks: 9}}\n"
                   "  - {resource: US-FL01, changeover_hours: 1}\n")
    runs_before = _rows(warehouse, "SELECT count(*) FROM runs")[0][0]
    result = CliRunner().invoke(app, ["scenario", "run", str(bad), "--warehouse", str(warehouse), "--base", base])
    assert result.exit_code == 2
    assert f"bad.yaml line 4: campaigns[1]: after the change '{suites[0]}' has min_campaign_weeks 9" in result.output
    assert "bad.yaml line 5: campaigns[2]: changeover_hours on 'US-FL01', which is not campaign-run" in result.output
    assert _rows(warehouse, "SELECT count(*) FROM runs")[0][0] == runs_before  # no run opened


@pytest.mark.slow
def test_a_resource_switched_to_campaigns_plans_campaigns_on_it(campaign_wh):
    warehouse, base, _, runs = campaign_wh
    on = runs["filling-in-campaigns"]

    def products_a_week(run_id: str) -> int:
        return _rows(warehouse, "SELECT coalesce(max(n), 0) FROM (SELECT count(DISTINCT product_id) AS n FROM "
                                "plan_production WHERE run_id = ? AND resource_id = 'US-FL01' AND quantity > 1e-6 "
                                "GROUP BY week)", run_id)[0][0]

    assert products_a_week(base) > 1  # the base mixes products in a week on the filling line
    assert products_a_week(on) == 1
    rows = _rows(warehouse, "SELECT changeover_hours FROM plan_campaigns WHERE run_id = ? AND resource_id = 'US-FL01'",
                 on)
    assert rows and all(h in (0.0, 8.0) for (h,) in rows)
    assert _rows(warehouse, "SELECT count(*) FROM plan_campaigns WHERE run_id = ? AND resource_id = 'US-FL01'",
                 base) == [(0,)]
