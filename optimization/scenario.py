"""What-if scenarios: a small YAML file of changes, parsed with line numbers, checked and applied to frames.

A scenario file names the scenario and lists changes, each a mapping in one of these sections::

    name: flu-line-plus-50          # letters, digits, '-', '_', '.'; not `base`
    description: 50% more hours on the flu filling line over the summer
    capacity:                       # hours (set) or percent (change) per week
      - {resource: R-FILL-1, percent: 50, start: 2026-06-01, end: 2026-08-31}
    demand:                         # product or family (or neither: all), optional site;
      - {family: Vaccines, multiplier: 1.2}         # multiplier or units added per series and week
    lanes:                          # close it, or a new lead time
      - {from_site: PL-1, to_site: DC-2, close: true}
    yields:                         # yield (set) or multiplier, optionally on one resource only
      - {product: P001, yield: 0.8}
    release:                        # weeks from production start to release (QC), optionally on one resource
      - {product: P001, release_weeks: 1}
    shutdowns:                      # no hours at all in those weeks
      - {resource: R-BIO-2, start: 2026-07-06, end: 2026-07-19}
    service_levels:                 # product or family (or neither: all)
      - {family: Vaccines, service_level: 0.99}
    orders:                         # firm orders (a tender) added to the booked orders, in a planned week
      - {product: P001, site: DC-2, week: 2026-07-06, quantity: 50000}
    campaigns:                      # a resource's campaign settings, or one switch (from → to) on it
      - {resource: R-BIO-1, changeover_hours: 48, min_campaign_weeks: 2}
      - {resource: R-BIO-1, from_product: P001, to_product: P002, changeover_cost: 5000}
      - {resource: R-BIO-2, campaign: false}

``start``/``end`` are dates (inclusive; a date stands for its ISO week); absent = the whole horizon.
Orders are booked, not forecast: a week plans max(forecast, booked), so a demand cut in the same file does
not cut them (:func:`scenario_orders`).
A campaign entry sets a resource's campaign columns, or (with ``from_product``/``to_product``) one named
switch on it; ``campaign: false`` plans the resource freely (an LP resource) and drops its own switches.
Everything here is pure: :func:`parse_scenario` takes the file's text, :func:`check_scenario` the base run's
inputs, :func:`apply_scenario` returns changed copies of the frames. Every error names the file's line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from data_contracts import schema
from optimization.config import PlanInputError

__all__ = [
    "CampaignChange",
    "CapacityChange",
    "DemandChange",
    "LaneChange",
    "OrderChange",
    "ReleaseChange",
    "Scenario",
    "ScenarioError",
    "ScenarioFile",
    "ServiceLevelChange",
    "Shutdown",
    "YieldChange",
    "apply_scenario",
    "check_scenario",
    "parse_scenario",
    "scenario_orders",
    "scenario_summary",
]

Path_ = tuple[str | int, ...]


class ScenarioError(PlanInputError):
    """A scenario file that cannot be applied; the message names the file and line of each problem."""


class _Change(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class _Weeks(_Change):
    start: date | None = Field(None, description="First week changed (any date of it); absent = horizon start.")
    end: date | None = Field(None, description="Last week changed (inclusive); absent = horizon end.")

    @model_validator(mode="after")
    def _ordered(self) -> _Weeks:
        if self.start is not None and self.end is not None and _monday(self.end) < _monday(self.start):
            raise ValueError(f"end {self.end} is before the week of start {self.start}")
        return self

    def weeks(self) -> pl.Expr:
        """True for the ``week`` rows (Mondays) this change covers."""
        cond = pl.lit(True)
        if self.start is not None:
            cond &= pl.col("week") >= _monday(self.start)
        if self.end is not None:
            cond &= pl.col("week") <= _monday(self.end)
        return cond


def _one_of(model: BaseModel, *names: str, required: bool = True) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) > 1 or (required and not given):
        raise ValueError(f"give {'exactly' if required else 'at most'} one of {', '.join(names)}"
                         + (f" (got {', '.join(given)})" if given else ""))


class CapacityChange(_Weeks):
    """Hours of a resource in some weeks: set (``hours``) or changed by a percentage (``percent``)."""

    resource: str
    hours: float | None = Field(None, ge=0, description="Hours available per week in those weeks.")
    percent: float | None = Field(None, ge=-100, description="Change of the hours, in percent (+50, -20).")

    @model_validator(mode="after")
    def _one(self) -> CapacityChange:
        _one_of(self, "hours", "percent")
        return self


class DemandChange(_Weeks):
    """Demand (the forecast planned against) of a product or family, optionally at one DC."""

    product: str | None = None
    family: str | None = None
    site: str | None = None
    multiplier: float | None = Field(None, ge=0, description="Factor on the forecast (mean and quantiles).")
    units: float | None = Field(None, description="Units added per product × DC and week (negative: removed).")

    @model_validator(mode="after")
    def _one(self) -> DemandChange:
        _one_of(self, "product", "family", required=False)
        _one_of(self, "multiplier", "units")
        return self


class LaneChange(_Change):
    """A lane closed, or given another lead time."""

    from_site: str
    to_site: str
    close: bool | None = None
    lead_time_weeks: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one(self) -> LaneChange:
        _one_of(self, "close", "lead_time_weeks")
        if self.close is False:
            raise ValueError("close: false changes nothing; leave the lane out or give lead_time_weeks")
        return self


class YieldChange(_Change):
    """The yield of a product (on every resource, or one): set, or multiplied."""

    product: str
    resource: str | None = None
    yield_: float | None = Field(None, alias="yield", gt=0, le=1)
    multiplier: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> YieldChange:
        _one_of(self, "yield_", "multiplier")
        return self


class ReleaseChange(_Change):
    """The release lag of a product (production + QC, in weeks) on every resource that makes it, or one: what
    if QC released a week faster."""

    product: str
    resource: str | None = None
    release_weeks: int = Field(ge=0, description="Weeks from the start of production to release.")


class OrderChange(_Change):
    """Firm orders (a tender) of a product at a site in one week, added to the booked orders."""

    product: str
    site: str
    week: date = Field(description="The week wanted (any date of it); a planned week.")
    quantity: float = Field(gt=0, description="Units ordered.")


class Shutdown(_Weeks):
    """A resource with no hours from ``start`` to ``end`` (both required)."""

    resource: str
    start: date
    end: date


class ServiceLevelChange(_Change):
    """Target service level of a product or family (or of every product)."""

    product: str | None = None
    family: str | None = None
    service_level: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _one(self) -> ServiceLevelChange:
        _one_of(self, "product", "family", required=False)
        return self


class CampaignChange(_Change):
    """A campaign resource's settings (campaign on/off, changeover, campaign lengths) or one named switch on it.

    With ``from_product``/``to_product`` only ``changeover_hours``/``changeover_cost`` may be given: they set
    that switch on that resource (a ``changeovers`` row of the resource, which wins over its site's row; the
    value not given is the switch's current one). Without, the fields set the resource's own columns; its
    named switches (``changeovers``) keep their hours and cost unless an entry names them.
    """

    resource: str
    from_product: str | None = None
    to_product: str | None = None
    campaign: bool | None = Field(None, description="Run the resource in campaigns (true) or freely (false).")
    changeover_hours: float | None = Field(None, ge=0, description="Hours lost in the week a campaign starts.")
    changeover_cost: float | None = Field(None, ge=0, description="Cost of starting a campaign.")
    changeover_hours_percent: float | None = Field(
        None, ge=-100, description="Change of the hours of every switch of the resource, named ones included "
        "(-50: half).")
    min_campaign_weeks: int | None = Field(None, ge=1)
    max_campaign_weeks: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _fields(self) -> CampaignChange:
        if (self.from_product is None) != (self.to_product is None):
            raise ValueError("a switch needs both from_product and to_product")
        settings = ("campaign", "changeover_hours", "changeover_hours_percent", "changeover_cost",
                    "min_campaign_weeks", "max_campaign_weeks")
        given = [n for n in settings if getattr(self, n) is not None]
        if not given:
            raise ValueError(f"give at least one of {', '.join(settings)}")
        if self.from_product is not None:
            if self.from_product == self.to_product:
                raise ValueError("a switch is between two products (from_product equals to_product)")
            other = [n for n in given if n not in ("changeover_hours", "changeover_cost")]
            if other:
                raise ValueError(f"a switch (from_product → to_product) sets only changeover_hours and "
                                 f"changeover_cost (got {', '.join(other)})")
        if self.changeover_hours is not None and self.changeover_hours_percent is not None:
            raise ValueError("give at most one of changeover_hours, changeover_hours_percent")
        if self.campaign is False and len(given) > 1:
            raise ValueError(f"campaign: false runs the resource freely; {', '.join(given[1:])} would not apply")
        if (self.min_campaign_weeks is not None and self.max_campaign_weeks is not None
                and self.min_campaign_weeks > self.max_campaign_weeks):
            raise ValueError(f"min_campaign_weeks {self.min_campaign_weeks} is above max_campaign_weeks "
                             f"{self.max_campaign_weeks}")
        return self

    @property
    def is_switch(self) -> bool:
        return self.from_product is not None


class Scenario(_Change):
    """A what-if scenario: a name and the changes applied to a base run's inputs and forecast."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    capacity: list[CapacityChange] = Field(default_factory=list)
    demand: list[DemandChange] = Field(default_factory=list)
    lanes: list[LaneChange] = Field(default_factory=list)
    yields: list[YieldChange] = Field(default_factory=list)
    release: list[ReleaseChange] = Field(default_factory=list)
    shutdowns: list[Shutdown] = Field(default_factory=list)
    service_levels: list[ServiceLevelChange] = Field(default_factory=list)
    campaigns: list[CampaignChange] = Field(default_factory=list)
    orders: list[OrderChange] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_base(self) -> Scenario:
        if self.name == "base":
            raise ValueError("a scenario cannot be called `base` (the plan of record)")
        return self


@dataclass(frozen=True)
class ScenarioFile:
    """A parsed scenario with the line of every key and list item of its file."""

    scenario: Scenario
    source: str
    lines: Mapping[Path_, int]

    def line(self, path: Path_) -> int:
        """Line of ``path`` (or of its nearest enclosing item) in the file."""
        for n in range(len(path), -1, -1):
            if tuple(path[:n]) in self.lines:
                return self.lines[tuple(path[:n])]
        return 1


# ---------------------------------------------------------------------------------------------- parsing
def _node_lines(node: yaml.Node, path: Path_ = ()) -> dict[Path_, int]:
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            lines |= _node_lines(value, sub)
            lines[sub] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines |= _node_lines(item, (*path, i))
    return lines


def _where(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def parse_scenario(text: str, source: str = "<scenario>") -> ScenarioFile:
    """Parse a scenario file's text; a malformed file raises :class:`ScenarioError` naming the line(s)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{source} line {line}: not valid YAML: {problem}") from None
    if node is None or not isinstance(node, yaml.MappingNode):
        raise ScenarioError(f"{source} line 1: a scenario file is a mapping with at least `name:`")
    lines = _node_lines(node)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        found = ScenarioFile(Scenario.model_construct(), source, lines)
        problems = [
            f"{source} line {found.line(tuple(err['loc']))}: {_where(err['loc']) or 'file'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
        raise ScenarioError("; ".join(problems)) from None
    return ScenarioFile(scenario, source, lines)


# ---------------------------------------------------------------------------------------------- checks
def check_scenario(parsed: ScenarioFile, inputs: Mapping[str, pl.DataFrame],
                   weeks: tuple[date, date] | None = None) -> None:
    """Refuse changes naming a resource, product, family, site or lane the inputs do not have, and orders
    outside the planned weeks.

    Args:
        parsed: the parsed file.
        inputs: the base run's clean input frames by entity name (products, sites, resources, routings, lanes).
        weeks: the first and last planned week (Mondays); None: orders' weeks are not checked.

    Raises:
        ScenarioError: naming the line and the unknown key of every problem.
    """
    known = {
        "resource": set(inputs[schema.RESOURCES.name]["resource_id"].to_list()),
        "product": set(inputs[schema.PRODUCTS.name]["product_id"].to_list()),
        "family": set(inputs[schema.PRODUCTS.name]["family"].to_list()),
        "site": set(inputs[schema.SITES.name]["site_id"].to_list()),
    }
    lanes = set(inputs[schema.LANES.name].select("from_site", "to_site").iter_rows())
    routings = set(inputs[schema.ROUTINGS.name].select("product_id", "resource_id").iter_rows())
    s = parsed.scenario
    problems: list[str] = []

    def unknown(section: str, i: int, field: str, kind: str, value: str | None) -> None:
        if value is not None and value not in known[kind]:
            hint = ", ".join(sorted(known[kind])[:12])
            problems.append(f"{parsed.source} line {parsed.line((section, i, field))}: {section}[{i}].{field}: "
                            f"unknown {kind} {value!r} (known: {hint}{', ...' if len(known[kind]) > 12 else ''})")

    for section, items in (("capacity", s.capacity), ("shutdowns", s.shutdowns)):
        for i, c in enumerate(items):
            unknown(section, i, "resource", "resource", c.resource)
    for i, d in enumerate(s.demand):
        unknown("demand", i, "product", "product", d.product)
        unknown("demand", i, "family", "family", d.family)
        unknown("demand", i, "site", "site", d.site)
    for i, sl in enumerate(s.service_levels):
        unknown("service_levels", i, "product", "product", sl.product)
        unknown("service_levels", i, "family", "family", sl.family)
    for section, items in (("yields", s.yields), ("release", s.release)):  # changes of routings
        for i, y in enumerate(items):
            unknown(section, i, "product", "product", y.product)
            unknown(section, i, "resource", "resource", y.resource)
            if y.product in known["product"] and not any(
                p == y.product and (y.resource is None or r == y.resource) for p, r in routings
            ):
                problems.append(f"{parsed.source} line {parsed.line((section, i))}: {section}[{i}]: no routing "
                                f"makes {y.product!r}" + (f" on {y.resource!r}" if y.resource else ""))
    for i, lane in enumerate(s.lanes):
        if (lane.from_site, lane.to_site) not in lanes:
            problems.append(f"{parsed.source} line {parsed.line(('lanes', i))}: lanes[{i}]: unknown lane "
                            f"{lane.from_site} -> {lane.to_site}")
    for i, c in enumerate(s.campaigns):
        unknown("campaigns", i, "resource", "resource", c.resource)
        for field in ("from_product", "to_product"):
            unknown("campaigns", i, field, "product", getattr(c, field))
            p = getattr(c, field)
            if c.resource in known["resource"] and p in known["product"] and (p, c.resource) not in routings:
                problems.append(f"{parsed.source} line {parsed.line(('campaigns', i, field))}: campaigns[{i}]."
                                f"{field}: no routing makes {p!r} on {c.resource!r}")
    for i, o in enumerate(s.orders):
        unknown("orders", i, "product", "product", o.product)
        unknown("orders", i, "site", "site", o.site)
        if weeks is not None and not weeks[0] <= _monday(o.week) <= weeks[1]:
            problems.append(f"{parsed.source} line {parsed.line(('orders', i, 'week'))}: orders[{i}].week: "
                            f"{o.week} is outside the planned weeks {weeks[0]} to {weeks[1]}")
    if s.campaigns and not problems:
        problems += _check_campaigns(parsed, inputs[schema.RESOURCES.name])
    if problems:
        raise ScenarioError("; ".join(problems))


_CAMPAIGN_FIELDS = ("changeover_hours", "changeover_cost", "min_campaign_weeks", "max_campaign_weeks")
_CAMPAIGN_SETTINGS = (*_CAMPAIGN_FIELDS, "changeover_hours_percent")


def _check_campaigns(parsed: ScenarioFile, resources: pl.DataFrame) -> list[str]:
    """Campaign changes that cannot hold once applied: a campaign setting or switch on a resource that is not
    campaign-run after the file's changes; a minimum campaign above the maximum."""
    s, problems = parsed.scenario, []
    after = _campaign_resources(s.campaigns, resources)
    run = dict(after.select("resource_id", pl.col("campaign").fill_null(False)).iter_rows())
    lengths = {r: (lo, hi) for r, lo, hi in after.select(
        "resource_id", "min_campaign_weeks", "max_campaign_weeks").iter_rows()}
    last_length: dict[str, int] = {}
    for i, c in enumerate(s.campaigns):
        where = f"{parsed.source} line {parsed.line(('campaigns', i))}: campaigns[{i}]"
        sets = [f for f in _CAMPAIGN_SETTINGS if getattr(c, f) is not None]
        if (sets or c.is_switch) and not run[c.resource]:
            what = "a switch" if c.is_switch else ", ".join(sets)
            problems.append(f"{where}: {what} on {c.resource!r}, which is not campaign-run (resources.campaign); "
                            f"add campaign: true to run it in campaigns")
        if c.min_campaign_weeks is not None or c.max_campaign_weeks is not None:
            last_length[c.resource] = i
    for resource, i in last_length.items():
        lo, hi = lengths[resource]
        if run[resource] and lo is not None and hi is not None and lo > hi:
            problems.append(f"{parsed.source} line {parsed.line(('campaigns', i))}: campaigns[{i}]: after the "
                            f"change {resource!r} has min_campaign_weeks {lo} above max_campaign_weeks {hi}")
    return problems


# ---------------------------------------------------------------------------------------------- apply
def _campaign_resources(changes: list[CampaignChange], resources: pl.DataFrame) -> pl.DataFrame:
    """The resources with every resource-level campaign change applied, in file order."""
    for c in changes:
        if c.is_switch:
            continue
        this = pl.col("resource_id") == c.resource
        resources = resources.with_columns(
            pl.when(this).then(pl.lit(getattr(c, f), resources.schema[f])).otherwise(pl.col(f)).alias(f)
            for f in ("campaign", *_CAMPAIGN_FIELDS) if getattr(c, f) is not None
        )
        if c.changeover_hours_percent is not None:
            resources = resources.with_columns(
                pl.when(this).then(pl.col("changeover_hours") * (1 + c.changeover_hours_percent / 100))
                .otherwise(pl.col("changeover_hours")).alias("changeover_hours"))
    return resources


def _changeovers(changes: list[CampaignChange], resources: pl.DataFrame,
                 changeovers: pl.DataFrame) -> pl.DataFrame:
    """The changeovers with every named switch set on its resource (a resource's row, which wins over its
    site's; the value not given is the switch's current one), every switch of a resource given
    ``changeover_hours_percent`` changed by it (its site's rows copied to the resource first), and no row left
    on a resource that no longer runs campaigns."""
    site = dict(resources.select("resource_id", "site_id").iter_rows())
    default = {r: (h, c) for r, h, c in resources.select("resource_id", "changeover_hours",
                                                         "changeover_cost").iter_rows()}
    keys = ["from_product_id", "to_product_id"]
    for c in changes:
        if c.changeover_hours_percent is not None:
            mine = pl.col("resource_id").eq_missing(c.resource)
            spread = (changeovers.filter(pl.col("resource_id").is_null() & (pl.col("site_id") == site[c.resource]))
                      .with_columns(resource_id=pl.lit(c.resource), site_id=pl.lit(None, pl.String))
                      .join(changeovers.filter(mine), on=keys, how="anti"))
            changeovers = pl.concat([changeovers, spread.select(changeovers.columns)]).with_columns(
                pl.when(mine).then(pl.col("hours") * (1 + c.changeover_hours_percent / 100))
                .otherwise(pl.col("hours")).alias("hours"))
        if not c.is_switch:
            continue
        pair = (pl.col("from_product_id") == c.from_product) & (pl.col("to_product_id") == c.to_product)
        own = pair & pl.col("resource_id").eq_missing(c.resource)  # a site row (null) is not own
        current = (changeovers.filter(own).select("hours", "cost").rows()
                   or changeovers.filter(pair & pl.col("resource_id").is_null()
                                         & (pl.col("site_id") == site[c.resource])).select("hours", "cost").rows()
                   or [default[c.resource]])[0]
        row = pl.DataFrame({
            "resource_id": [c.resource], "site_id": [None], "from_product_id": [c.from_product],
            "to_product_id": [c.to_product],
            "hours": [c.changeover_hours if c.changeover_hours is not None else current[0] or 0.0],
            "cost": [c.changeover_cost if c.changeover_cost is not None else current[1] or 0.0],
        }, schema={k: v for k, v in changeovers.schema.items() if k in schema.CHANGEOVERS.column_names})
        changeovers = pl.concat([changeovers.filter(~own), row], how="diagonal_relaxed").select(changeovers.columns)
    off = resources.filter(~pl.col("campaign").fill_null(False))["resource_id"]
    return changeovers.filter(pl.col("resource_id").is_null() | ~pl.col("resource_id").is_in(off.implode()))


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _products_of(change: DemandChange | ServiceLevelChange) -> pl.Expr:
    if change.product is not None:
        return pl.col("product_id") == change.product
    if change.family is not None:
        return pl.col("family") == change.family
    return pl.lit(True)


def _calendar(scenario: Scenario, resources: pl.DataFrame, calendar: pl.DataFrame, start_week: date,
              horizon_weeks: int) -> pl.DataFrame:
    """The calendar with every capacity change and shutdown applied over the horizon."""
    touched = {c.resource for c in scenario.capacity} | {c.resource for c in scenario.shutdowns}
    if not touched:
        return calendar
    weeks = pl.DataFrame({"week": [start_week + timedelta(weeks=k) for k in range(horizon_weeks)]},
                         schema={"week": pl.Date})
    grid = (
        resources.filter(pl.col("resource_id").is_in(sorted(touched)))
        .select("resource_id", "hours_per_week")
        .join(weeks, how="cross")
        .join(calendar.select("resource_id", "week", "hours_available"), on=["resource_id", "week"], how="left",
              validate="1:1")
        # no calendar row: the resource's normal weekly hours apply that week
        .with_columns(pl.coalesce("hours_available", "hours_per_week").alias("hours_available"))
    )
    for c in scenario.capacity:
        new = pl.lit(c.hours) if c.hours is not None else pl.col("hours_available") * (1 + c.percent / 100)
        grid = grid.with_columns(
            pl.when((pl.col("resource_id") == c.resource) & c.weeks()).then(new)
            .otherwise(pl.col("hours_available")).alias("hours_available")
        )
    for c in scenario.shutdowns:
        grid = grid.with_columns(
            pl.when((pl.col("resource_id") == c.resource) & c.weeks()).then(0.0)
            .otherwise(pl.col("hours_available")).alias("hours_available")
        )
    kept = calendar.join(grid.select("resource_id", "week"), on=["resource_id", "week"], how="anti")
    return pl.concat([kept, grid.select(calendar.columns)]).sort("resource_id", "week")


def _forecast(scenario: Scenario, forecast: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    """The forecast with every demand change applied to its mean and quantiles (kept ≥ 0)."""
    if not scenario.demand:
        return forecast
    values = ["mean", *(schema.quantile_column(q) for q in schema.QUANTILES)]
    out = forecast.join(products.select("product_id", "family"), on="product_id", how="left", validate="m:1")
    for d in scenario.demand:
        where = _products_of(d) & d.weeks() & (pl.col("site_id") == d.site if d.site else pl.lit(True))
        out = out.with_columns(
            pl.when(where)
            .then(pl.col(v) * d.multiplier if d.multiplier is not None else (pl.col(v) + d.units).clip(0.0))
            .otherwise(pl.col(v)).alias(v)
            for v in values
        )
    return out.select(forecast.columns)


def _routings(scenario: Scenario, routings: pl.DataFrame) -> pl.DataFrame:
    """The routings with every yield and release-lag change applied, in file order."""
    def this(change: YieldChange | ReleaseChange) -> pl.Expr:
        return (pl.col("product_id") == change.product) & (
            pl.col("resource_id") == change.resource if change.resource else pl.lit(True))

    for y in scenario.yields:
        new = pl.lit(y.yield_) if y.yield_ is not None else (pl.col("yield") * y.multiplier).clip(upper_bound=1.0)
        routings = routings.with_columns(pl.when(this(y)).then(new).otherwise(pl.col("yield")).alias("yield"))
    for r in scenario.release:
        routings = routings.with_columns(
            pl.when(this(r)).then(pl.lit(r.release_weeks, routings.schema["release_weeks"]))
            .otherwise(pl.col("release_weeks")).alias("release_weeks"))
    return routings


def apply_scenario(scenario: Scenario, inputs: Mapping[str, pl.DataFrame], forecast: pl.DataFrame,
                   start_week: date, horizon_weeks: int) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Apply a scenario's changes to copies of the planning inputs and the forecast.

    Args:
        scenario: the changes (checked with :func:`check_scenario` first).
        inputs: clean input frames by entity name; ``resources, calendar, lanes, routings, products`` (and
            ``changeovers``, when the scenario changes campaigns) are used.
        forecast: the forecast frame (``product_id, site_id, week, mean, q01 … q99``).
        start_week: Monday of the first planned week.
        horizon_weeks: weeks planned (capacity changes are spelled out as calendar rows over them).

    Returns:
        The inputs (every entity, changed ones replaced) and the changed forecast.
    """
    out = dict(inputs)
    products = inputs[schema.PRODUCTS.name]
    calendar = inputs.get(schema.CALENDAR.name, schema.CALENDAR.empty())
    out[schema.CALENDAR.name] = _calendar(scenario, inputs[schema.RESOURCES.name], calendar, start_week,
                                          horizon_weeks)
    lanes = inputs[schema.LANES.name]
    for lane in scenario.lanes:
        this = (pl.col("from_site") == lane.from_site) & (pl.col("to_site") == lane.to_site)
        lanes = lanes.filter(~this) if lane.close else lanes.with_columns(
            pl.when(this).then(pl.lit(lane.lead_time_weeks, pl.Int64)).otherwise(pl.col("lead_time_weeks"))
            .alias("lead_time_weeks"))
    out[schema.LANES.name] = lanes
    out[schema.ROUTINGS.name] = _routings(scenario, inputs[schema.ROUTINGS.name])
    for sl in scenario.service_levels:
        products = products.with_columns(
            pl.when(_products_of(sl)).then(pl.lit(sl.service_level)).otherwise(pl.col("service_level"))
            .alias("service_level"))
    out[schema.PRODUCTS.name] = products
    if scenario.campaigns:
        resources = _campaign_resources(scenario.campaigns, inputs[schema.RESOURCES.name])
        out[schema.RESOURCES.name] = resources
        out[schema.CHANGEOVERS.name] = _changeovers(
            scenario.campaigns, resources, inputs.get(schema.CHANGEOVERS.name, schema.CHANGEOVERS.empty()))
    return out, _forecast(scenario, forecast, inputs[schema.PRODUCTS.name])


def scenario_orders(scenario: Scenario, booked: pl.DataFrame) -> pl.DataFrame:
    """The booked orders with the scenario's orders added (summed where a week already has some).

    Args:
        booked: ``product_id, site_id, week, quantity``, one row per key.

    Returns:
        The same columns, one row per key.
    """
    if not scenario.orders:
        return booked
    new = pl.DataFrame(
        [(o.product, o.site, _monday(o.week), o.quantity) for o in scenario.orders],
        schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date, "quantity": pl.Float64},
        orient="row")
    return (pl.concat([booked, new], how="vertical_relaxed")
            .group_by("product_id", "site_id", "week").agg(pl.col("quantity").sum())
            .sort("product_id", "site_id", "week").select(booked.columns))


def scenario_summary(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain JSON-able data (kept with the run's parameters)."""
    return scenario.model_dump(mode="json", by_alias=True, exclude_defaults=True)
