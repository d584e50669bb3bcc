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
not cut them (:func:`optimization.scenario_apply.scenario_orders`).
A campaign entry sets a resource's campaign columns, or (with ``from_product``/``to_product``) one named
switch on it; ``campaign: false`` plans the resource freely (an LP resource) and drops its own switches.

The modules around this one do the rest, each readable alone: :mod:`optimization.scenario_check` refuses a
file naming what the base run's inputs do not have, :mod:`optimization.scenario_apply` returns changed
copies of the frames (campaign changes: :mod:`optimization.scenario_campaigns`). This one holds the file's
shape (the pydantic models) and :func:`parse_scenario`, which reads it with the line of every key, so every
error names the file's line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
    "monday",
    "parse_scenario",
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
        if self.start is not None and self.end is not None and monday(self.end) < monday(self.start):
            raise ValueError(f"end {self.end} is before the week of start {self.start}")
        return self

    def weeks(self) -> pl.Expr:
        """True for the ``week`` rows (Mondays) this change covers."""
        cond = pl.lit(True)
        if self.start is not None:
            cond &= pl.col("week") >= monday(self.start)
        if self.end is not None:
            cond &= pl.col("week") <= monday(self.end)
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
    """The line of every key and list item under ``node`` (pydantic's errors give paths, not lines)."""
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
    """A path as the file's reader writes it: ``capacity[1].resource``."""
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


def scenario_summary(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain JSON-able data (kept with the run's parameters)."""
    return scenario.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def monday(d: date) -> date:
    """The Monday of ``d``'s ISO week: a file's dates stand for their weeks, the plan's weeks are Mondays."""
    return d - timedelta(days=d.weekday())
