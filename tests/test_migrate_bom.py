"""An older warehouse (the schema before the bill of materials and campaigns) opened and migrated: the new
tables appear, the new columns take what the older rows meant, and an old run still plans and checks."""

from __future__ import annotations

import duckdb
import polars as pl

from data_contracts import schema
from data_contracts.plan import validate_plan
from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from warehouse.db import open_warehouse
from warehouse.layout import sql_type

RUN = "old-run"
#: what the bill of materials and campaigns added to the schema (the tables and columns an older file lacks)
NEW_ENTITIES = (schema.BOM, schema.STORAGE, schema.CHANGEOVERS)
NEW_TABLES = (schema.PLAN_CAMPAIGNS,)
NEW_COLUMNS = {
    schema.RESOURCES.name: ("campaign", "changeover_hours", "changeover_cost", "min_campaign_weeks",
                            "max_campaign_weeks"),
    schema.PLAN_INVENTORY.name: ("consumed",),
}


def _old_tables() -> dict[str, dict[str, pl.DataType]]:
    """Every table of the older schema with its columns: today's, less what came with issue 17."""
    old: dict[str, dict[str, pl.DataType]] = {}
    for t in schema.INPUT_ENTITIES:
        if t in NEW_ENTITIES:
            continue
        drop = NEW_COLUMNS.get(t.name, ())
        cols = {c: d for c, d in t.columns.items() if c not in drop}
        old[schema.raw_table_name(t.name)] = {
            schema.LOAD_ID: pl.String, schema.SOURCE_FILE: pl.String, schema.SOURCE_ROW: pl.Int64,
            **{c: pl.String for c in cols}, schema.RAW_EXTRA: pl.String}
        old[schema.clean_table_name(t.name)] = {"run_id": pl.String, **cols}
    for t in (schema.LOADS, schema.RUNS, schema.QUARANTINE, schema.CONTRACT_RESULTS, *schema.OUTPUT_TABLES,
              *schema.TWIN_TABLES):
        if t not in NEW_TABLES:
            old[t.name] = {c: d for c, d in t.columns.items() if c not in NEW_COLUMNS.get(t.name, ())}
    return old


def _create(con, name: str, cols: dict[str, pl.DataType]) -> None:
    con.execute(f"CREATE TABLE {name} ({', '.join(f'{_q(c)} {sql_type(d)}' for c, d in cols.items())})")


def _q(column: str) -> str:
    return f'"{column}"'


def _insert(con, name: str, frame: pl.DataFrame) -> None:
    con.register("_f", frame.to_arrow())
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _f")
    con.unregister("_f")


def _old_warehouse(path, inputs, plan) -> None:
    """Write an older warehouse file: its tables, one run's clean inputs and its plan, as that code did."""
    con = duckdb.connect(str(path))
    old = _old_tables()
    for name, cols in old.items():
        _create(con, name, cols)
    for entity, frame in inputs.items():
        name = schema.clean_table_name(entity)
        if name in old:
            _insert(con, name, frame.with_columns(run_id=pl.lit(RUN)).select(
                [c for c in old[name] if c in frame.columns or c == "run_id"]))
    _insert(con, schema.raw_table_name(schema.RESOURCES.name),
            pl.DataFrame({schema.LOAD_ID: ["ld-old"], "resource_id": ["R"]}))  # one loaded row, as it was
    for name in schema.PLAN_TABLES:
        if name in old and name in plan:
            _insert(con, name, plan[name].with_columns(run_id=pl.lit(RUN)).select(list(old[name])))
    con.close()


def test_an_older_warehouse_is_migrated_for_the_bill_of_materials_and_campaigns(tmp_path):
    config = PlanConfig(horizon_weeks=4, terminal_condition=False)
    inputs = ex.inputs()
    demand = ex.demand(dict(product_id="A", site_id="D", t=2, quantity=30.0))
    result = plan_supply(build_network(inputs, ex.START, config), demand, pl.DataFrame(), config)
    path = tmp_path / "old.duckdb"
    _old_warehouse(path, {k: v for k, v in inputs.items() if v.height}, result.tables)
    con = duckdb.connect(str(path), read_only=True)
    before = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    inv_cols = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'plan_inventory'").fetchall()}
    con.close()
    assert "plan_campaigns" not in before and schema.clean_table_name("bom") not in before
    assert "consumed" not in inv_cols  # the file is of the older schema

    with open_warehouse(path) as wh:
        tables = {r[0] for r in wh.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        for t in NEW_ENTITIES:
            assert schema.clean_table_name(t.name) in tables and schema.raw_table_name(t.name) in tables
        assert schema.PLAN_CAMPAIGNS.name in tables
        # an older plan consumed nothing; an older resource was not campaign-run
        inv = wh.read(schema.PLAN_INVENTORY.name, RUN)
        assert inv.height > 0 and inv["consumed"].to_list() == [0.0] * inv.height
        res = wh.read(schema.clean_table_name(schema.RESOURCES.name), RUN)
        assert res.select("campaign", "changeover_hours", "changeover_cost", "min_campaign_weeks").row(0) == (
            False, 0.0, 0.0, 1)
        assert res["max_campaign_weeks"].to_list() == [None]  # no limit
        raw = wh.read(schema.raw_table_name(schema.RESOURCES.name))
        assert raw["campaign"].to_list() == [None]  # raw rows keep what was loaded: nothing
        # the old run's inputs rebuild its network (single level, no campaigns) and its plan passes the
        # output contract, whose stock balance now includes `consumed`
        net = build_network(wh.planning_inputs(RUN), ex.START, config)
        assert not net.has_campaigns and net.bom.height == 0
        plan = {name: wh.read(name, RUN).drop("run_id") for name in schema.PLAN_TABLES}
        validate_plan(plan, inputs["lanes"])
        # a plan written now keeps its own consumed values: migrating again changes nothing
        _insert(wh.con, schema.PLAN_INVENTORY.name, inv.with_columns(run_id=pl.lit("new-run"),
                                                                    consumed=pl.lit(5.0)))
    with open_warehouse(path) as wh:
        assert set(wh.read(schema.PLAN_INVENTORY.name, "new-run")["consumed"]) == {5.0}
        assert set(wh.read(schema.PLAN_INVENTORY.name, RUN)["consumed"]) == {0.0}


def test_a_column_added_to_an_older_table_without_a_backfill_stays_null(tmp_path):
    # a column whose older rows have no meaning to fill (here: which product came before) is added as null
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    cols = {c: d for c, d in schema.PLAN_CAMPAIGNS.columns.items() if c != "from_product_id"}
    _create(con, schema.PLAN_CAMPAIGNS.name, cols)
    con.execute(f"INSERT INTO {schema.PLAN_CAMPAIGNS.name} (run_id, resource_id) VALUES ('r', 'R')")
    con.close()
    with open_warehouse(path) as wh:
        assert wh.read(schema.PLAN_CAMPAIGNS.name)["from_product_id"].to_list() == [None]
