"""The one schema module: every table plantwin reads or writes, its columns, types, keys and meaning.

No other module spells a table name. Input entities follow the input contract of DESIGN.md; warehouse
tables are the raw, clean, run and output tables of the DuckDB warehouse. Column names used by the pure
packages (``forecasting``, ``optimization``) come from here too.

A table is a :class:`Table`: its name, ordered columns (name → polars dtype), key, whether it is an input
entity (and then whether it is optional), and one line of meaning per column for the data dictionary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

__all__ = [
    "Table",
    "ALLOWED_VALUES",
    "INPUT_ENTITIES",
    "OPTIONAL_ENTITIES",
    "DERIVED_CLEAN",
    "NO_EXPIRY_COLUMNS",
    "WEEK_COLUMNS",
    "ZERO_MEANS_NONE",
    "TABLES",
    "QUANTILES",
    "RAW_META_COLUMNS",
    "quantile_column",
    "table",
    "raw_table_name",
    "stored_raw_table_name",
    "kept_text_column",
    "TYPED_RAW",
    "clean_table_name",
    "stored_clean_table_name",
]

Str = pl.String
F64 = pl.Float64
I64 = pl.Int64
Date = pl.Date
Bool = pl.Boolean
Ts = pl.Datetime("us")

#: Metadata columns every raw row carries: the load it came in, its source file and 1-based data row number.
LOAD_ID = "_load_id"
SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
RAW_META_COLUMNS: tuple[str, ...] = (LOAD_ID, SOURCE_FILE, SOURCE_ROW)
#: A raw row's position among the rows a run reads of its entity (in queries only, never stored).
RAW_POSITION = "__pos"
#: Raw column holding, as JSON, the values of columns a source had beyond the contract's.
RAW_EXTRA = "_extra"
#: Files an exporter writes last into an input folder to say it is complete (:mod:`warehouse.arrival` reads
#: such a folder at once, without waiting for its files to settle): an empty marker, or a ``sha256sum``
#: manifest of every entity file.
READY_MARKER = "_READY"
CHECKSUMS_MANIFEST = "_SHA256SUMS"
#: The formats of an input entity's file, ``<entity>.<format>`` (one file per entity in a folder).
INPUT_FILE_FORMATS: tuple[str, ...] = ("csv", "parquet")

#: Forecast quantile levels stored for every forecast row (columns ``q01`` … ``q99``).
QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20, 0.50, 0.80, 0.90, 0.95, 0.99)


def quantile_column(q: float) -> str:
    """Column name of forecast quantile ``q``: its percent, two integer digits, the decimals after ``_``.

    ``0.95`` → ``q95``, ``0.05`` → ``q05``, ``0.025`` → ``q02_5``, ``0.975`` → ``q97_5``, ``0.999`` →
    ``q99_9``: no precision is lost (up to 4 decimals of the percent), so distinct levels never share a column.
    """
    if not 0 < q < 1:
        raise ValueError(f"a quantile level is in (0, 1), got {q}")
    whole, _, frac = f"{q * 100:.4f}".rstrip("0").rstrip(".").partition(".")
    return f"q{int(whole):02d}" + (f"_{frac}" if frac else "")


@dataclass(frozen=True)
class Table:
    """A table's contract: columns in order, key, meaning."""

    name: str
    columns: dict[str, pl.DataType]
    key: tuple[str, ...]
    doc: str
    column_docs: dict[str, str] = field(default_factory=dict)
    is_input: bool = False
    optional: bool = False
    nullable: tuple[str, ...] = ()
    #: input columns that may be absent from a file; filled with the given default
    defaults: dict[str, object] = field(default_factory=dict)
    #: columns added after the table was first written: the value they take in an older warehouse's rows
    #: (what the older code meant), filled when the warehouse is migrated; an input entity's clean table
    #: takes its ``defaults`` instead
    backfill: dict[str, object] = field(default_factory=dict)

    @property
    def schema(self) -> pl.Schema:
        """The polars schema of the table."""
        return pl.Schema(self.columns)

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)

    @property
    def required_columns(self) -> list[str]:
        """Columns an input file must have (all but those with a default)."""
        return [c for c in self.columns if c not in self.defaults]

    def empty(self) -> pl.DataFrame:
        """An empty frame with this table's schema."""
        return pl.DataFrame(schema=self.schema)


def _t(name: str, doc: str, key: tuple[str, ...], cols: list[tuple[str, pl.DataType, str]], **kw) -> Table:
    return Table(
        name=name,
        columns={c: t for c, t, _ in cols},
        key=key,
        doc=doc,
        column_docs={c: d for c, _, d in cols},
        **kw,
    )


# --------------------------------------------------------------------------------------------------
# Input entities (one file per entity in the input folder; the same columns from a database)
# --------------------------------------------------------------------------------------------------
PRODUCTS = _t(
    "products",
    "Finished products: costs, shelf life, priority and target service level.",
    ("product_id",),
    [
        ("product_id", Str, "Product code."),
        ("name", Str, "Product name."),
        ("family", Str, "Product family (e.g. vaccines, monoclonals)."),
        ("unit", Str, "Unit of measure all quantities of the product are in (doses, vials)."),
        ("shelf_life_weeks", I64, "Weeks of usable life, counted as `shelf_life_from` says; null = no expiry."),
        ("unit_cost", F64, "Standard cost of one unit (values stock and expiry write-off)."),
        ("holding_cost_per_week", F64, "Cost of holding one unit for one week."),
        ("backlog_penalty", F64, "Penalty per unit and week of unmet demand (before priority weighting)."),
        ("priority", I64, "1 = most critical therapy; larger = less critical."),
        ("service_level", F64, "Target cycle service level in (0, 1); sizes safety stock."),
        (
            "shelf_life_from",
            Str,
            "`manufacture` (expiry counts from the production start, as for biologics and vaccines) or "
            "`release` (from QC release); absent = `manufacture`.",
        ),
    ],
    is_input=True,
    nullable=("shelf_life_weeks",),
    defaults={"shelf_life_from": "manufacture"},
)

SITES = _t(
    "sites",
    "Plants and distribution centres.",
    ("site_id",),
    [
        ("site_id", Str, "Site code."),
        ("name", Str, "Site name."),
        ("site_type", Str, "`plant` or `dc`; a plant may also serve demand."),
        ("region", Str, "Region the site serves or sits in."),
    ],
    is_input=True,
)

RESOURCES = _t(
    "resources",
    "Production resources (bioreactors, filling lines) at plants.",
    ("resource_id",),
    [
        ("resource_id", Str, "Resource code."),
        ("site_id", Str, "Plant the resource belongs to."),
        ("name", Str, "Resource name."),
        ("hours_per_week", F64, "Normal available hours per week."),
        ("campaign", Bool, "Campaign-run: at most one product a week, a switch costs a changeover; absent = "
         "false."),
        ("changeover_hours", F64, "Hours lost in the week a campaign starts (cleaning, changeover, validation "
         "batch), unless `changeovers` names the switch; absent = 0."),
        ("changeover_cost", F64, "Cost of starting a campaign, unless `changeovers` names the switch; "
         "absent = 0."),
        ("min_campaign_weeks", I64, "Fewest consecutive weeks a campaign stays set up for its product; "
         "absent = 1."),
        ("max_campaign_weeks", I64, "Most consecutive weeks set up for one product; null = no limit."),
    ],
    is_input=True,
    nullable=("max_campaign_weeks",),
    defaults={"campaign": False, "changeover_hours": 0.0, "changeover_cost": 0.0, "min_campaign_weeks": 1,
              "max_campaign_weeks": None},
)

ROUTINGS = _t(
    "routings",
    "Which resource can make which product, at what rate, yield, cost and release lag.",
    ("product_id", "resource_id"),
    [
        ("product_id", Str, "Product made."),
        ("resource_id", Str, "Resource that makes it."),
        ("hours_per_unit", F64, "Resource hours per unit started."),
        ("yield", F64, "Share of started units released good, in (0, 1]."),
        ("cost_per_unit", F64, "Variable production cost per unit started."),
        ("release_weeks", I64, "Weeks from production start to release (production + QC)."),
        ("min_batch", F64, "Minimum quantity started when any is started; null (empty or 0) = none."),
        ("batch_size", F64, "Quantity of one batch; null (empty or 0) = continuous production."),
    ],
    is_input=True,
    nullable=("min_batch", "batch_size"),
)

LANES = _t(
    "lanes",
    "Transport lanes between sites.",
    ("from_site", "to_site"),
    [
        ("from_site", Str, "Shipping site."),
        ("to_site", Str, "Receiving site."),
        ("lead_time_weeks", I64, "Whole weeks from shipment to arrival."),
        ("cost_per_unit", F64, "Transport cost per unit."),
        ("capacity_per_week", F64, "Units per week the lane can carry; null = unlimited."),
    ],
    is_input=True,
    nullable=("capacity_per_week",),
)

ORDERS = _t(
    "orders",
    "Customer order lines: the demand history.",
    ("order_id",),
    [
        ("order_id", Str, "Order line id; a later load with the same id is a new version of the line."),
        ("order_date", Date, "Date the order was entered."),
        ("requested_week", Date, "Monday of the ISO week the customer asked for."),
        ("product_id", Str, "Product ordered."),
        ("site_id", Str, "DC that serves the order."),
        ("quantity", F64, "Quantity ordered."),
        ("status", Str, "`open`, `shipped` or `cancelled`; absent = `open`."),
    ],
    is_input=True,
    defaults={"status": "open"},
)

INVENTORY = _t(
    "inventory",
    "On-hand stock by lot at the as-of date.",
    ("product_id", "site_id", "lot_id"),
    [
        ("as_of_date", Date, "Date of the stock snapshot."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "Site holding the lot."),
        ("lot_id", Str, "Lot (batch) number."),
        ("quantity", F64, "Quantity on hand."),
        ("expiry_date", Date, "Lot expiry date; null = no expiry."),
        ("status", Str, "`released` (usable) or `quarantine` (awaiting QC)."),
    ],
    is_input=True,
    nullable=("expiry_date",),
)

RECEIPTS = _t(
    "receipts",
    "Scheduled receipts: work in progress and stock in transit.",
    ("product_id", "site_id", "week", "kind"),
    [
        ("product_id", Str, "Product."),
        ("site_id", Str, "Site receiving it."),
        ("week", Date, "Monday of the week it becomes available."),
        ("quantity", F64, "Quantity received."),
        ("kind", Str, "`production` or `transfer`."),
    ],
    is_input=True,
    optional=True,
)

CALENDAR = _t(
    "calendar",
    "Weekly resource availability overriding hours_per_week (shutdowns, maintenance).",
    ("resource_id", "week"),
    [
        ("resource_id", Str, "Resource."),
        ("week", Date, "Monday of the week."),
        ("hours_available", F64, "Hours available that week."),
    ],
    is_input=True,
    optional=True,
)

CHANGEOVERS = _t(
    "changeovers",
    "Sequence-dependent changeovers of campaign resources: hours and cost of switching from one product to "
    "another, on one resource or on every campaign resource of a site (a resource's own row wins).",
    ("resource_id", "site_id", "from_product_id", "to_product_id"),
    [
        ("resource_id", Str, "Campaign resource; null when `site_id` is given."),
        ("site_id", Str, "Plant whose campaign resources the row applies to; null when `resource_id` is given."),
        ("from_product_id", Str, "Product the resource was set up for."),
        ("to_product_id", Str, "Product of the campaign that starts."),
        ("hours", F64, "Hours lost in the week of the switch (instead of the resource's changeover_hours)."),
        ("cost", F64, "Cost of the switch (instead of the resource's changeover_cost)."),
    ],
    is_input=True,
    optional=True,
    nullable=("resource_id", "site_id"),
)

BATCHES = _t(
    "batches",
    "Batch records from manufacturing: planned and actual quantities, QC outcome.",
    ("batch_id",),
    [
        ("batch_id", Str, "Batch number."),
        ("product_id", Str, "Product made."),
        ("resource_id", Str, "Resource it was made on."),
        ("start_date", Date, "Production start."),
        ("release_date", Date, "QC release (or rejection) date; null = not yet decided."),
        ("planned_qty", F64, "Quantity planned."),
        ("actual_qty", F64, "Quantity obtained."),
        ("qc_passed", Bool, "Whether the batch passed QC."),
    ],
    is_input=True,
    optional=True,
    nullable=("release_date",),
)

BOM = _t(
    "bom",
    "Bill of materials: what making one unit of a parent item consumes of each component (drug product ← "
    "drug substance ← ...), at the parent's production site in the week its production starts.",
    ("parent_id", "component_id"),
    [
        ("parent_id", Str, "Item made (a product with a routing)."),
        ("component_id", Str, "Item consumed (a product: an intermediate made on its own routing, or stock)."),
        ("quantity_per", F64, "Units of the component per unit of the parent started, before scrap; > 0."),
        (
            "scrap",
            F64,
            "Share of the component lost in the parent's process, in [0, 1): a start consumes "
            "quantity_per / (1 − scrap); absent or empty = 0.",
        ),
    ],
    is_input=True,
    optional=True,
    defaults={"scrap": 0.0},
)

STORAGE = _t(
    "storage",
    "Storage space per site for a product family (freezers for drug substance, cold rooms): most units "
    "of the family's products a site may hold at a week's end.",
    ("site_id", "family"),
    [
        ("site_id", Str, "Site of the store."),
        ("family", Str, "Product family stored there (`products.family`); its products share the space."),
        ("capacity", F64, "Most units (in the products' own unit) held at the end of any week; ≥ 0."),
        ("overflow_cost", F64, "Cost per unit and week held above `capacity` (space rented, a store elsewhere): "
         "the limit is then soft; null or absent = a hard limit."),
    ],
    is_input=True,
    optional=True,
    nullable=("overflow_cost",),
    defaults={"overflow_cost": None},
)

INPUT_ENTITIES: tuple[Table, ...] = (
    PRODUCTS, SITES, RESOURCES, ROUTINGS, LANES, ORDERS, INVENTORY, RECEIPTS, CALENDAR, BATCHES, BOM, STORAGE,
    CHANGEOVERS,
)
#: The input entities the plan reads from a run's clean tables (all but the demand history and the batch
#: records): the plan stage, the twin and the benchmarks that re-plan a stored run stage exactly these.
PLANNING_INPUTS: tuple[Table, ...] = tuple(t for t in INPUT_ENTITIES if t not in (ORDERS, BATCHES))
OPTIONAL_ENTITIES = tuple(t.name for t in INPUT_ENTITIES if t.optional)
#: Input entities whose ``clean_<entity>`` is a view, not a table: the typed rows stored by runs in
#: ``clean_<entity>_stored`` and, for the runs in ``clean_loads``, the raw rows of one load cast on read.
#: A run whose contracts kept every row of one load (a clean load read by a plain scan) stores no typed copy
#: of its millions of order lines; any other run stores its typed clean rows, as before.
DERIVED_CLEAN: tuple[str, ...] = (ORDERS.name,)

#: Input entity → its raw columns stored typed (dates, numbers), in ``raw_<entity>_stored``: each column holds
#: the cell's typed value (``TRY_CAST``) and ``<column>_text`` the cell's text only where it is not the typed
#: value's canonical text (``CAST(typed AS VARCHAR)``: ``12`` beside 12.0, ``2024-1-5``, ``1,5``), so the text is
#: always recoverable. ``raw_<entity>`` is then a view rebuilding the text, so every reader is unchanged, while
#: the contracts read the typed values instead of casting 8.5 million cells three times. A warehouse whose
#: ``raw_<entity>`` is a table (made before) keeps its text layout.
TYPED_RAW: dict[str, tuple[str, ...]] = {ORDERS.name: ("order_date", "requested_week", "quantity")}

#: Allowed values of the coded input columns: the contracts quarantine anything else, the planning model
#: refuses it.
ALLOWED_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    (PRODUCTS.name, "shelf_life_from"): ("manufacture", "release"),
    (SITES.name, "site_type"): ("plant", "dc"),
    (ORDERS.name, "status"): ("open", "shipped", "cancelled"),
    (INVENTORY.name, "status"): ("released", "quarantine"),
    (RECEIPTS.name, "kind"): ("production", "transfer"),
}

#: Date columns where null means "never expires": an ERP's sentinel date there
#: (``ContractConfig.never_expires``, ``9999-12-31`` by default) is read as null, not rejected.
NO_EXPIRY_COLUMNS: tuple[tuple[str, str], ...] = ((INVENTORY.name, "expiry_date"),)

#: Number columns where 0 means "none", as null does: read as null (a batch size of 0 is no batch size).
ZERO_MEANS_NONE: tuple[tuple[str, str], ...] = ((ROUTINGS.name, "min_batch"), (ROUTINGS.name, "batch_size"))

#: Week columns: the Monday of an ISO week (or, under ``week_start: sunday``, the Sunday before it).
WEEK_COLUMNS: tuple[tuple[str, str], ...] = (
    (ORDERS.name, "requested_week"), (RECEIPTS.name, "week"), (CALENDAR.name, "week"),
)

# --------------------------------------------------------------------------------------------------
# Warehouse bookkeeping
# --------------------------------------------------------------------------------------------------
LOADS = _t(
    "loads",
    "One row per load of one entity's source: what was read, when, its content hash.",
    ("load_id",),
    [
        ("load_id", Str, "Load id."),
        ("entity", Str, "Input entity loaded."),
        ("source", Str, "File path or query it came from."),
        ("content_hash", Str, "SHA-256 of the content; a load with a known hash is not stored again."),
        ("row_count", I64, "Rows read."),
        ("loaded_at", Ts, "When it was loaded (UTC)."),
        ("plain", Bool, "Whether the file held only ASCII text without blanks, tabs, quotes or stray carriage "
                        "returns (the ingest's scan), so no key of it holds a blank; null where not known (a "
                        "frame, a database source, a load made before this column)."),
        ("cut_off", Bool, "Whether the CSV file's last line had no line end and fewer cells than the header "
                          "(the ingest's look at its last bytes): an export cut off mid-line; null where "
                          "not known."),
    ],
    nullable=("plain", "cut_off"),
)

RUNS = _t(
    "runs",
    "Every pipeline run: kind, scenario, parameters, inputs, status and solver figures.",
    ("run_id",),
    [
        ("run_id", Str, "Run id."),
        ("kind", Str, "`weekly_planning`, `nightly_refresh`, `replan` or `scenario`."),
        ("scenario", Str, "Scenario name (`base` for the plan of record)."),
        ("base_run_id", Str, "Run whose inputs a replan or scenario reused; null otherwise."),
        ("run_date", Date, "Date the run plans from."),
        ("parameters", Str, "Run parameters as JSON."),
        ("input_load_ids", Str, "JSON object: entity → load ids the run read."),
        ("code_version", Str, "plantwin version and git commit."),
        ("status", Str, "`running`, `success` or `failed`."),
        ("error", Str, "Error message of a failed run."),
        ("solver", Str, "Solver used."),
        ("solver_status", Str, "Solver status (Optimal, Infeasible, ...)."),
        ("problem_type", Str, "`LP` or `MIP`."),
        ("objective", F64, "Optimal objective value."),
        ("mip_gap", F64, "Relative MIP gap at the end; 0 for an LP."),
        ("solve_seconds", F64, "Solver wall time."),
        ("stage_seconds", Str, "JSON object: pipeline stage -> wall seconds."),
        ("started_at", Ts, "Start (UTC)."),
        ("finished_at", Ts, "End (UTC)."),
        ("warnings", I64, "Warnings the run stored in `run_warnings` (0: none; null: the run stopped before its "
                          "contracts, or is older than that table: its backfilled rows are not counted)."),
        ("solver_bases", I64, "Solver bases the plan kept for the runs built on it, one per block "
                              "(`<stem>.solver-bases/<run_id>/`): 0 on the `pulp` path or when a lane coupled the "
                              "blocks, so a plan on top of it starts cold without a `warm_start_missing` warning; "
                              "null for a run without a plan or older than this column."),
    ],
    nullable=("base_run_id", "run_date", "error", "solver", "solver_status", "problem_type", "objective", "mip_gap",
              "solve_seconds", "stage_seconds", "finished_at", "warnings", "solver_bases"),
)

QUARANTINE = _t(
    "quarantine",
    "Input rows rejected by a contract, with the rule and the reason.",
    ("run_id", "entity", "load_id", "source_row", "rule"),
    [
        ("run_id", Str, "Run whose validation rejected the row."),
        ("entity", Str, "Input entity."),
        ("load_id", Str, "Load the row came in."),
        ("source_file", Str, "File (or query) the row came from."),
        ("source_row", I64, "Row number in the source (1 = first data row)."),
        ("row_values", Str, "The row's values as JSON."),
        ("rule", Str, "Rule broken (expectation name)."),
        ("reason", Str, "Why, in words."),
    ],
)

CLEAN_LOADS = _t(
    "clean_loads",
    "Runs whose clean rows of an entity are every raw row of one load, typed on read (the entities of "
    "`DERIVED_CLEAN`): the `clean_<entity>` view casts that load's `raw_<entity>` rows for the run; no typed "
    "copy is stored.",
    ("run_id", "entity"),
    [
        ("run_id", Str, "Run whose contracts kept every row of the load."),
        ("entity", Str, "Input entity."),
        ("load_id", Str, "The load (`loads`, `raw_<entity>`) whose rows are the run's clean rows."),
    ],
)

CONTRACT_RESULTS = _t(
    "contract_results",
    "Every expectation checked in a run and its outcome.",
    ("run_id", "entity", "expectation"),
    [
        ("run_id", Str, "Run."),
        ("entity", Str, "Entity (or `plan` for output contracts)."),
        ("expectation", Str, "Expectation / rule checked."),
        ("success", Bool, "Whether every row passed."),
        ("element_count", I64, "Rows checked."),
        ("unexpected_count", I64, "Rows that broke it."),
    ],
)

RUN_WARNINGS = _t(
    "run_warnings",
    "What a run noticed that rejects no row, each finding once: demand no plant reaches (`demand_reachable`, "
    "one row per product × site), number columns that look thousands-grouped (`thousands_point`), data far "
    "behind the run date (`stale_data`), a week a hundred times its series' usual demand (`demand_outlier`), "
    "a week the forecast fitted at its local level as a one-off, a tender or a stockpile (`demand_one_off`), "
    "series with demand only in the weeks holding a month's 1st, monthly or quarterly figures read as weeks "
    "(`period_buckets`, one row, key `requested_week`), "
    "orders for a component of the bill of materials (`component_demand`), a demand history too short to "
    "backtest any series over the plan's horizon, so that the bands were calibrated on a shorter backtest or "
    "are the lognormal guess (`short_backtest`, one row, key `horizon_weeks`), an incremental load that looks like a full extract missing lines (`missing_from_extract`), "
    "a CSV file that ends mid-line, its export likely cut off (`cut_off_file`, key the file's name), "
    "a routing on a campaign-run resource with neither batch size nor minimum batch, planned continuously "
    "(`continuous_campaign`, key `product_id|resource_id`), "
    "a plan solved block by block whose base run's solver bases were not found, so it started cold "
    "(`warm_start_missing`, entity `plan`, key the folder looked in: stored by the plan stage). "
    "Stored by the contracts and forecast stages (a replan or scenario keeps its base run's); the run summary "
    "and the plan report read them from here. A run made before this table gets, when its warehouse is migrated, "
    "the `thousands_point` and `stale_data` warnings its stored rows still give (its summary showed those).",
    ("run_id", "entity", "rule", "key"),
    [
        ("run_id", Str, "Run."),
        ("entity", Str, "Input entity (or `network` for the checks across entities, `plan` for the plan's)."),
        ("rule", Str, "Rule: `demand_reachable`, `thousands_point`, `stale_data`, `demand_outlier`, `demand_one_off`, "
                      "`period_buckets`, "
                      "`component_demand`, `short_backtest`, `missing_from_extract`, `cut_off_file`, `continuous_campaign` or "
                      "`warm_start_missing`."),
        ("key", Str, "What it is about: `product_id|site_id` for a pair (`|week` for a week), the column for a "
                     "column."),
        ("reason", Str, "Why, in words, with what to do."),
    ],
)

# --------------------------------------------------------------------------------------------------
# Forecast outputs
# --------------------------------------------------------------------------------------------------
_Q_COLS = [(quantile_column(q), F64, f"Forecast quantile {q:.2f}.") for q in QUANTILES]

DEMAND_HISTORY = _t(
    "demand_history",
    "Weekly demand per product × DC built from the orders (cancelled lines out).",
    ("run_id", "product_id", "site_id", "week"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "DC."),
        ("week", Date, "Monday of the requested week."),
        ("quantity", F64, "Units requested that week (0 inside a series' life with no orders)."),
    ],
)

#: ``forecast.model`` of a series planned from its booked orders alone (no history, no forecast)
BOOKED_MODEL = "booked"
#: ``forecast.booked_band``: how a week's quantiles moved where its booked orders raised the mean
BOOKED_SHIFTED, BOOKED_SCALED = "shifted", "scaled"

FORECAST = _t(
    "forecast",
    "Forecast per product × DC × week: mean, quantiles and the model that made it.",
    ("run_id", "product_id", "site_id", "week"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "DC."),
        ("week", Date, "Monday of the forecast week."),
        ("model", Str, "Model chosen for the series (`booked` for a series with booked orders and no "
         "history)."),
        ("mean", F64, "Demand the plan uses: the point forecast, raised to the week's booked orders where "
         "they exceed it (booked orders consume the forecast)."),
        *_Q_COLS,
        ("booked", F64, "Orders booked (not cancelled) for the week when the run was made; null where none "
         "were booked (null in runs made before booked orders were planned)."),
        ("booked_added", F64, "Units the booked orders added above the statistical forecast (`mean` minus "
         "the forecaster's mean); 0 where the forecast covers them, null where none were booked."),
        ("booked_band", Str, "How the quantiles moved where the booked orders added units: `shifted` (up by "
         "`booked_added`: the forecast's spread in units) or `scaled` (by `mean` over the forecaster's "
         "mean: every row of a run stored before the shift); null in the other rows of newer runs."),
    ],
    backfill={"booked_band": BOOKED_SCALED},  # rows stored before the shift: raised by the level's ratio
)

FORECAST_SERIES = _t(
    "forecast_series",
    "Per series: its demand class, the statistics behind it and the model chosen.",
    ("run_id", "product_id", "site_id"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "DC."),
        ("series_class", Str, "smooth, erratic, intermittent, lumpy, short, new, inactive or seasonal_only "
         "(demand only in the same periods of every season)."),
        ("n_weeks", I64, "Weeks of history in the series' life."),
        ("adi", F64, "Average demand interval (weeks between non-zero demands)."),
        ("cv2", F64, "Squared coefficient of variation of non-zero demand sizes."),
        ("model", Str, "Champion model."),
        ("selection", Str, "How it was chosen: `default` (the set's robust combination), `backtest` (a "
         "champion on strong evidence), `fallback`, `rule` or `guard` (in place of a choice whose "
         "forecast fell to zero on a series that sold in every recent period)."),
    ],
    nullable=("adi", "cv2"),
)

FORECAST_BACKTEST = _t(
    "forecast_backtest",
    "Rolling-origin backtest scores per series, model and window.",
    ("run_id", "product_id", "site_id", "model", "window"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "DC."),
        ("model", Str, "Candidate model."),
        ("window", I64, "Backtest window (0 = oldest)."),
        ("mase", F64, "Mean absolute scaled error."),
        ("wape", F64, "Weighted absolute percentage error."),
        ("bias", F64, "Sum of (forecast − actual) over sum of actuals."),
    ],
    nullable=("mase", "wape", "bias"),
)

FORECAST_ACCURACY = _t(
    "forecast_accuracy",
    "Accuracy of past runs' forecasts against later actuals, by lag and level.",
    ("run_id", "level", "key", "lag"),
    [
        ("run_id", Str, "Run that measured it."),
        ("level", Str, "`series`, `family` or `total`."),
        ("key", Str, "Series (product|site), family, or `all`."),
        ("lag", I64, "Weeks between the forecast's run and the week forecast."),
        ("wape", F64, "WAPE of the forecasts at that lag."),
        ("bias", F64, "Bias of the forecasts at that lag."),
        ("wape_naive", F64, "WAPE of seasonal naive at that lag."),
        ("value_added", F64, "wape_naive − wape."),
        ("n_weeks", I64, "Weeks compared."),
    ],
    nullable=("wape", "bias", "wape_naive", "value_added"),
)

# --------------------------------------------------------------------------------------------------
# Plan outputs
# --------------------------------------------------------------------------------------------------
PLAN_PRODUCTION = _t(
    "plan_production",
    "Production started per product × resource × week and when it is released.",
    ("run_id", "product_id", "resource_id", "week"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("resource_id", Str, "Resource."),
        ("site_id", Str, "Plant of the resource."),
        ("week", Date, "Week production starts."),
        ("release_week", Date, "Week the good output is released (start + release_weeks)."),
        ("quantity", F64, "Units started."),
        ("released_quantity", F64, "Good units released (quantity × yield)."),
        ("batches", F64, "Batches started (null for continuous production)."),
        ("hours", F64, "Resource hours used."),
        ("cost", F64, "Production cost."),
    ],
    nullable=("batches",),
)

PLAN_SHIPMENTS = _t(
    "plan_shipments",
    "Shipments per product × lane × week.",
    ("run_id", "product_id", "from_site", "to_site", "week"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("from_site", Str, "Shipping site."),
        ("to_site", Str, "Receiving site."),
        ("week", Date, "Week shipped."),
        ("arrival_week", Date, "Week it arrives."),
        ("quantity", F64, "Units shipped."),
        ("cost", F64, "Transport cost."),
    ],
)

PLAN_INVENTORY = _t(
    "plan_inventory",
    "Stock balance per product × site × week: opening + released + receipts + arrivals − departures − "
    "served − consumed − expired = closing.",
    ("run_id", "product_id", "site_id", "week"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "Site."),
        ("week", Date, "Week."),
        ("opening", F64, "Stock at the start of the week."),
        ("released", F64, "Own production released into stock this week. In a bucketed plan's far weeks "
         "(`bucket_after_weeks`) it is the bucket's releases spread evenly over its weeks, as are its other "
         "flows: the bucket model pools a bucket's weeks, so it knows what a bucket releases, not in which "
         "of its weeks (`plan_production.release_week` is each production week's own release)."),
        ("receipts", F64, "Scheduled receipts (WIP, in transit) arriving."),
        ("arrivals", F64, "Planned shipments arriving from other sites."),
        ("departures", F64, "Planned shipments leaving."),
        ("served", F64, "Demand (and backlog) served from this stock."),
        ("consumed", F64, "Used as a component by production started at this site this week (bill of "
         "materials; dependent demand)."),
        ("expired", F64, "Stock written off as expired."),
        ("closing", F64, "Stock at the end of the week."),
        ("safety_stock", F64, "Safety-stock target."),
        ("safety_shortfall", F64, "How far closing stock is below the target."),
    ],
    backfill={"consumed": 0.0},  # plans made before the bill of materials consumed nothing
)

PLAN_BACKLOG = _t(
    "plan_backlog",
    "Demand, service and backlog per product × DC × week.",
    ("run_id", "product_id", "site_id", "week"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "DC."),
        ("week", Date, "Week."),
        ("demand", F64, "Demand planned against (forecast mean or given demand)."),
        ("served", F64, "Units served this week (new demand and backlog)."),
        ("backlog", F64, "Unserved units carried to next week."),
        (
            "lost",
            F64,
            "Units of demand given up this week, never to be served: with a maximum backlog age, demand the "
            "plan cannot serve within it is given up when that is clear (usually in its own week, since "
            "waiting first only adds backlog penalty), and may not wait longer than the allowed weeks.",
        ),
    ],
)

PLAN_EXPIRY = _t(
    "plan_expiry",
    "Stock written off because it reached its shelf life.",
    ("run_id", "product_id", "site_id", "week"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "Site."),
        ("week", Date, "Week written off."),
        ("quantity", F64, "Units written off."),
        ("cost", F64, "Write-off cost (units × unit_cost)."),
    ],
)

PLAN_CAPACITY = _t(
    "plan_capacity",
    "Resource hours used and available per week, with the shadow price of one more hour.",
    ("run_id", "resource_id", "week"),
    [
        ("run_id", Str, "Run."),
        ("resource_id", Str, "Resource."),
        ("site_id", Str, "Plant."),
        ("week", Date, "Week."),
        ("hours_used", F64, "Hours planned."),
        ("hours_available", F64, "Hours available (calendar-adjusted)."),
        ("utilisation", F64, "hours_used / hours_available (null when none available)."),
        ("shadow_price", F64, "Objective saved by one more hour that week (≥ 0; the LP dual, one end of "
         "the range where the resource is full)."),
        ("price_hour_more", F64, "Objective saved by one hour more, re-solved (bottlenecks named in "
         "plan_shortages; null elsewhere)."),
        ("price_hour_less", F64, "Objective lost by one hour less, re-solved (same rows; ≥ price_hour_more)."),
    ],
    nullable=("utilisation", "shadow_price", "price_hour_more", "price_hour_less"),
)

PLAN_SHORTAGES = _t(
    "plan_shortages",
    "Every unit of demand not served in its week, with the reason and what would recover it; largest first.",
    ("run_id", "product_id", "site_id", "week"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "DC."),
        ("week", Date, "Week the demand goes short."),
        ("short_quantity", F64, "Units backlogged or lost that week (a unit waiting three weeks is in three rows)."),
        ("late_units", F64, "Units of this week's demand not served in it: min(demand, short_quantity); their "
         "sum is demand × (1 − on-time fill rate)."),
        ("short_value", F64, "short_quantity at the product's unit cost."),
        ("reason", Str, "capacity, component (a component's resource through the bill of materials), "
         "changeover, campaign_length, lane_capacity, release_lag, shelf_life, no_route or cost."),
        ("resource_id", Str, "The bottleneck resource whose extra hours would recover it (capacity, component "
         "and shelf_life reasons; null otherwise)."),
        (
            "detail",
            Str,
            "The bottleneck and what would recover it, in words (a recovery only where one exists; for "
            "release_lag the earliest week new supply reaches the site).",
        ),
    ],
    nullable=("resource_id",),
)

PLAN_PEGGING = _t(
    "plan_pegging",
    "Which supply each site's units came from, first in, first out through stock: the opening stock, a "
    "receipt, or production at a resource (start and release week), through the shipments that carried it, "
    "for what was served, expired, used as a component or left in stock at the end (optimization/pegging.py).",
    ("run_id", "product_id", "site_id", "week", "use", "due_week", "parent_id", "parent_resource_id",
     "parent_start_week", "source", "source_site", "resource_id", "start_week"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "Site where the units were used."),
        ("week", Date, "Week they were used."),
        ("use", Str, "served (demand and backlog served that week), expired, consumed (as a component of "
         "production started there) or closing (left in stock at the horizon's end)."),
        ("due_week", Date, "Week the served demand was due (served only: backlog is served oldest first); "
         "`week` − `due_week` is how late it was served."),
        ("parent_id", Str, "Product whose production consumed them (consumed only; its site is `site_id`)."),
        ("parent_resource_id", Str, "Resource of that production (consumed only)."),
        ("parent_start_week", Date, "Week that production started (consumed only: `week`, but in a bucketed "
         "plan's far weeks, whose tables spread a bucket's consumption evenly and its production by hours)."),
        ("source", Str, "stock (on hand at the start), receipt (scheduled: work in progress, in transit) or "
         "production (planned)."),
        ("source_site", Str, "Site the supply entered the network at (the plant, for production)."),
        ("resource_id", Str, "Resource that made it (production only)."),
        ("start_week", Date, "Week its production started (production only)."),
        ("release_week", Date, "Week it was released (production only)."),
        ("quantity", F64, "Units."),
    ],
    nullable=("due_week", "parent_id", "parent_resource_id", "parent_start_week", "resource_id", "start_week",
              "release_week"),
)

PLAN_PEGGING_BOM = _t(
    "plan_pegging_bom",
    "What a pegged unit made by production holds, through every level of the bill of materials: for each "
    "plan_pegging row whose source is production, the component lots its production consumed (the "
    "component's stock, receipt or production, pegged first in, first out like any use), then theirs, "
    "level by level, in proportion to the units pegged (optimization/pegging.py).",
    ("run_id", "product_id", "site_id", "week", "use", "due_week", "source_site", "resource_id", "start_week",
     "level", "parent_id", "parent_resource_id", "parent_start_week", "component_id", "component_source",
     "component_source_site", "component_resource_id", "component_start_week"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product used (the plan_pegging row's)."),
        ("site_id", Str, "Site where it was used."),
        ("week", Date, "Week it was used."),
        ("use", Str, "served, expired or closing (consumed units are followed in their parent's uses)."),
        ("due_week", Date, "Week the served demand was due (served only)."),
        ("source_site", Str, "Plant that made the product (the plan_pegging row's)."),
        ("resource_id", Str, "Resource that made the product."),
        ("start_week", Date, "Week the product's production started."),
        ("level", I64, "1: a component of the product's production; 2: a component of that component's; …"),
        ("parent_id", Str, "Product whose production consumed the component (level 1: product_id)."),
        ("parent_resource_id", Str, "Resource of that production."),
        ("parent_start_week", Date, "Week that production started (and consumed the component)."),
        ("component_id", Str, "Component consumed."),
        ("component_source", Str, "stock, receipt or production: where the component came from."),
        ("component_source_site", Str, "Site the component entered the network at (its plant, for production)."),
        ("component_resource_id", Str, "Resource that made the component (production only)."),
        ("component_start_week", Date, "Week the component's production started (production only)."),
        ("component_release_week", Date, "Week it was released (production only)."),
        ("quantity", F64, "Units of product_id's use whose share of this component came from this lot."),
        ("component_quantity", F64, "Units of the component behind them (quantity_per / (1 − scrap) / yield "
         "per unit, level by level)."),
    ],
    nullable=("due_week", "component_resource_id", "component_start_week", "component_release_week"),
)

PLAN_CAMPAIGNS = _t(
    "plan_campaigns",
    "Campaigns on campaign-run resources: one product set up for consecutive weeks, with the changeover "
    "that starts it.",
    ("run_id", "resource_id", "first_week"),
    [
        ("run_id", Str, "Run."),
        ("resource_id", Str, "Campaign resource."),
        ("site_id", Str, "Plant of the resource."),
        ("product_id", Str, "Product the resource is set up for."),
        ("first_week", Date, "First week of the campaign."),
        ("last_week", Date, "Last week of the campaign (inside the horizon)."),
        ("weeks", I64, "Weeks from first to last, both included."),
        ("batches", F64, "Batches started in the campaign (null for continuous production)."),
        ("quantity", F64, "Units started in the campaign."),
        ("changeover_hours", F64, "Hours lost to the changeover that starts it (0 for the first campaign of "
         "the planned weeks: the resource is taken as set up for it)."),
        ("changeover_cost", F64, "Cost of that changeover."),
        ("from_product_id", Str, "Product the resource was set up for before (null for the first campaign or "
         "after an idle, cleaned spell)."),
    ],
    nullable=("batches", "from_product_id"),
)

PLAN_KPIS = _t(
    "plan_kpis",
    "Plan key figures, one row per KPI (costs by component, fill rates, stock value, utilisation).",
    ("run_id", "kpi"),
    [
        ("run_id", Str, "Run."),
        ("kpi", Str, "KPI name."),
        ("value", F64, "Value."),
        ("unit", Str, "Unit of the value (currency, share, units, weeks, hours)."),
    ],
)

#: Every KPI of ``plan_kpis`` in a planner's words (``utilisation_<resource_id>`` stands for one per resource).
#: Money the plan spends is "plan cost"; prices the model puts on bad service are "service penalties".
PLAN_KPI_DOCS: dict[str, str] = {
    "fill_rate_units": "Fill rate on time: units served in the week they were wanted, over all units wanted "
    "in the horizon (backlog is served oldest first).",
    "fill_rate_served_units": "Fill rate eventually served: units served by the end of the horizon, late or "
    "not, over all units wanted in the horizon.",
    "fill_rate_weeks": "Share of product × DC × weeks with demand whose demand was served in full that week "
    "(a stand-in for line fill rate).",
    "plan_cost": "Plan cost: the money the plan spends = production + transport + holding + expiry write-off.",
    "cost_production": "Plan cost: units started × cost per unit of the routing.",
    "cost_transport": "Plan cost: units shipped × lane cost per unit.",
    "cost_holding": "Plan cost: closing stock × holding cost per unit and week, every week.",
    "cost_expiry": "Plan cost: units written off × unit cost (lots already expired at the start included).",
    "service_penalties": "Service penalties: prices on bad service, not cash = backlog + lost sales + "
    "safety-stock shortfall + end-stock shortfall. They steer the plan; they are not spent.",
    "cost_backlog": "Service penalty: units waiting × weeks waited × the product's backlog penalty, weighted "
    "by priority.",
    "cost_lost_sales": "Service penalty: units given up × the weighted backlog penalty × (maximum backlog "
    "weeks + lost_sale_penalty_weeks).",
    "cost_safety_stock": "Service penalty: units below the safety-stock target × weeks × a share "
    "(safety_stock_penalty_share) of the weighted backlog penalty.",
    "cost_end_stock_shortfall": "Service penalty: units the network ends the horizon short of its end-stock "
    "target × the weighted backlog penalty × terminal_penalty_weeks.",
    "cost_total": "The objective the plan minimises: plan_cost + service_penalties.",
    "horizon_weeks": "Weeks the figures are over: KPIs of runs with different horizons are not comparable.",
    "demand_units": "Units wanted in the horizon (forecast mean or the demand file).",
    "backlog_units_end": "Units still waiting at the end of the last week.",
    "lost_units": "Units given up (with a maximum backlog age), booked in the week they are given up.",
    "expired_units": "Units written off because they reached their shelf life (lots expired at the start "
    "included).",
    "stock_units_end": "Stock on hand at the end of the last week, all sites (items used as bill-of-materials "
    "components, such as drug substance, are left out: their units are not the sold units).",
    "stock_value_end": "That stock at unit cost.",
    "weeks_of_cover": "Stock at the end over the average weekly demand of the horizon: how long it would last.",
    "pipeline_units_end": "Good output of production started in the horizon but released after it (without "
    "bill-of-materials components).",
    "end_position_units": "Stock at the end + pipeline: what the next plan starts with.",
    "end_stock_target_units": "What the terminal condition asks the network to end with: demand beyond the "
    "horizon that new production cannot reach in time + the last week's safety stock (absent without a "
    "forecast beyond the horizon or with the condition off).",
    "utilisation_avg": "Average hours used over hours available, over resource-weeks with hours.",
    "utilisation_max": "Highest utilisation of any resource-week.",
    "utilisation_last_4_weeks": "Average utilisation of the last four weeks (near zero: the plan runs the "
    "network down).",
    "weeks_at_capacity": "Resource-weeks at 99.9% utilisation or more.",
    "utilisation_<resource_id>": "Average utilisation of one resource over the horizon.",
    "campaigns": "Campaigns planned on campaign-run resources (absent without campaign resources).",
    "changeovers": "Changeovers planned: campaigns that follow another product's or whose start costs hours or "
                   "money, the rows `scenario compare` counts per resource (absent without campaign "
    "resources).",
    "cost_changeover": "Plan cost: the changeovers' cost (absent without campaign resources).",
    "cost_storage_overflow": "Plan cost: units held above a soft storage limit × weeks × its overflow_cost "
    "(absent without a soft limit).",
    "booked_units": "Units of booked (firm) orders in the weeks planned and beyond, a scenario's `orders:` "
    "included (absent when none are booked).",
    "booked_units_added": "Units the booked orders added above the demand the plan was given, series by series "
    "(the forecast, a scenario's changed forecast, or a `--demand` file's quantity): the plan's demand is the "
    "larger (absent when none are booked).",
    "booked_weeks_added": "Product × site × weeks in which booked orders added units above the demand given "
    "(absent when none are booked).",
    "changeover_hours": "Hours lost to changeovers (absent without campaign resources).",
    "utilisation_campaign_resources": "Average utilisation of the campaign-run resources, changeover hours "
    "included (absent without campaign resources).",
}

OUTPUT_TABLES: tuple[Table, ...] = (
    DEMAND_HISTORY, FORECAST, FORECAST_SERIES, FORECAST_BACKTEST, FORECAST_ACCURACY,
    PLAN_PRODUCTION, PLAN_SHIPMENTS, PLAN_INVENTORY, PLAN_BACKLOG, PLAN_EXPIRY, PLAN_CAPACITY,
    PLAN_SHORTAGES, PLAN_KPIS, PLAN_CAMPAIGNS, PLAN_PEGGING, PLAN_PEGGING_BOM,
)
PLAN_TABLES = tuple(t.name for t in OUTPUT_TABLES if t.name.startswith("plan_"))

# --------------------------------------------------------------------------------------------------
# Process learning and the digital twin (Monte Carlo replay of a stored plan)
# --------------------------------------------------------------------------------------------------
PROCESS_ESTIMATES = _t(
    "process_estimates",
    "Per run and routing: what the batch records say about yield, QC failures and release time, beside "
    "the routing's values (shrunk toward them when batches are few).",
    ("run_id", "product_id", "resource_id"),
    [
        ("run_id", Str, "Run."),
        ("product_id", Str, "Product."),
        ("resource_id", Str, "Resource."),
        ("batches", I64, "Decided batches (QC passed or failed) the estimate uses (the most recent ones)."),
        ("failed_batches", I64, "Of those, batches that failed QC."),
        ("routing_yield", F64, "Yield in the routing (master data)."),
        ("learned_yield", F64, "Yield of passed batches (actual / planned), shrunk toward the routing's."),
        ("yield_sd", F64, "Batch-to-batch standard deviation of the yield."),
        ("learned_failure_rate", F64, "Share of batches failing QC, shrunk toward the pooled rate of all "
                                      "routings."),
        ("failure_rate_sd", F64, "Posterior standard deviation of the failure rate."),
        ("routing_release_weeks", I64, "Release weeks in the routing (master data)."),
        ("learned_release_weeks", F64, "Mean weeks from start to release, shrunk toward the routing's."),
        ("release_weeks_sd", F64, "Batch-to-batch standard deviation of the weeks to release."),
        ("effective_yield", F64, "learned_yield × (1 − learned_failure_rate): good units per unit started."),
        ("effective_release_weeks", I64, "learned_release_weeks rounded up."),
        ("applied", Bool, "Whether the run's plan used the effective values instead of the routing's."),
        ("prior_batches", F64, "Weight of the routing's values (and the pooled failure rate), in batches."),
        ("last_batch_start", Date, "Start date of the newest batch used; null = no batches."),
    ],
    nullable=("last_batch_start",),
)

TWIN_SUMMARY = _t(
    "twin_summary",
    "A twin replay of a run's plan: each figure's distribution over the sample paths beside the plan's "
    "value.",
    ("run_id", "twin_id", "metric"),
    [
        ("run_id", Str, "Run whose plan was replayed."),
        ("twin_id", Str, "Twin replay."),
        ("scenario", Str, "Scenario of the run."),
        ("metric", Str, "fill_rate_units, fill_rate_by_end (demand served within the horizon, late or not), "
                        "fill_rate_weeks, stockout_weeks, short_units, expired_units, "
                        "expiry_cost, ending_stock_units, ending_stock_value, demand_units, "
                        "demand_above_plan_units (demand above the plan's quantity, summed over "
                        "series-weeks) or "
                        "released_units (units of sold items released within the horizon)."),
        ("unit", Str, "Unit of the figure (share, weeks, units, currency)."),
        ("plan_value", F64, "The plan's own value of the figure."),
        ("mean", F64, "Mean over the paths."),
        ("p05", F64, "5th percentile over the paths."),
        ("p50", F64, "Median over the paths."),
        ("p95", F64, "95th percentile over the paths."),
        ("paths", I64, "Sample paths simulated."),
        ("seed", I64, "Random seed."),
        ("created_at", Ts, "When the replay ran (UTC)."),
    ],
    nullable=("plan_value", "mean", "p05", "p50", "p95"),
)

TWIN_RISK = _t(
    "twin_risk",
    "A twin replay's risk per product × demand site: shortage probability, short units, service "
    "achieved.",
    ("run_id", "twin_id", "product_id", "site_id"),
    [
        ("run_id", Str, "Run whose plan was replayed."),
        ("twin_id", Str, "Twin replay."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "Demand site (DC)."),
        ("shortage_probability", F64, "Share of paths with a shortage in any week of the horizon."),
        ("expected_short_units", F64, "Mean over paths of demand units not served in the week requested."),
        ("expected_demand", F64, "Mean over paths of the demand over the horizon."),
        ("fill_rate", F64, "Mean over paths of units served on time over demand (null without demand)."),
        ("service_level_achieved", F64, "Share of path-weeks with demand whose demand was served in full."),
        ("service_level_target", F64, "The product's target service level."),
        ("meets_target", Bool, "service_level_achieved >= service_level_target."),
        ("weeks_at_risk", I64, "Weeks whose shortage probability exceeds 1 − target."),
        ("first_week_at_risk", Date, "First of those weeks; null = none."),
        ("at_risk_weeks", Str, "Those weeks as ISO weeks (2025-W07), comma-separated; empty = none."),
    ],
    nullable=("fill_rate", "service_level_achieved", "first_week_at_risk"),
)

TWIN_STOCK_FAN = _t(
    "twin_stock_fan",
    "A twin replay's projected closing stock per product × site × week: percentiles over the paths.",
    ("run_id", "twin_id", "product_id", "site_id", "week"),
    [
        ("run_id", Str, "Run whose plan was replayed."),
        ("twin_id", Str, "Twin replay."),
        ("product_id", Str, "Product."),
        ("site_id", Str, "Site."),
        ("week", Date, "Week."),
        ("p05", F64, "5th percentile of closing stock."),
        ("p25", F64, "25th percentile of closing stock."),
        ("p50", F64, "Median closing stock."),
        ("p75", F64, "75th percentile of closing stock."),
        ("p95", F64, "95th percentile of closing stock."),
        ("plan_closing", F64, "The plan's closing stock (null where the plan has no row)."),
    ],
    nullable=("plan_closing",),
)

TWIN_TABLES: tuple[Table, ...] = (PROCESS_ESTIMATES, TWIN_SUMMARY, TWIN_RISK, TWIN_STOCK_FAN)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (*INPUT_ENTITIES, LOADS, RUNS, QUARANTINE, CLEAN_LOADS, CONTRACT_RESULTS, RUN_WARNINGS,
              *OUTPUT_TABLES,
              *TWIN_TABLES)
}


def table(name: str) -> Table:
    """The table called ``name``; raises ``KeyError`` naming the known tables."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(sorted(TABLES))}") from None


def raw_table_name(entity: str) -> str:
    """Warehouse table holding every raw row ever loaded for an input entity."""
    return f"raw_{table(entity).name}"


def stored_raw_table_name(entity: str) -> str:
    """Warehouse table storing an entity's raw rows: ``raw_<entity>`` itself, or for :data:`TYPED_RAW` the
    table ``raw_<entity>_stored`` (typed columns and the text kept beside them) under the view."""
    name = raw_table_name(entity)
    return f"{name}_stored" if table(entity).name in TYPED_RAW else name


def kept_text_column(column: str) -> str:
    """The column of ``raw_<entity>_stored`` keeping a typed column's cell text where it is not canonical."""
    return f"{column}_text"


def clean_table_name(entity: str) -> str:
    """Warehouse table (a view for :data:`DERIVED_CLEAN`) holding the rows of an input entity that passed
    the contracts, per run."""
    return f"clean_{table(entity).name}"


def stored_clean_table_name(entity: str) -> str:
    """Warehouse table storing the typed clean rows runs wrote: ``clean_<entity>`` itself, or for
    :data:`DERIVED_CLEAN` the table ``clean_<entity>_stored`` under its view."""
    name = clean_table_name(entity)
    return f"{name}_stored" if table(entity).name in DERIVED_CLEAN else name
