"""A scenario file checked against its base run: every resource, product, family, site, lane and routing it
names must exist there, and every order fall in a planned week, before any run is opened.

Each section's names are checked in file order and every problem is reported at once, each with its line
(``flu.yaml line 5: capacity[1].resource: unknown resource 'US-FL09' (known: ...)``), so a planner fixes
the file in one go. Campaign changes are checked once the names hold
(:func:`optimization.scenario_campaigns.check_campaigns`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from data_contracts import schema
from optimization.scenario import ScenarioError, ScenarioFile, monday
from optimization.scenario_campaigns import check_campaigns

__all__ = ["check_scenario"]

#: most known names a message lists
_HINTS = 12


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
    base = _Base.of(parsed, inputs)
    problems = [
        *_resource_problems(base),
        *_demand_problems(base),
        *_routing_problems(base),
        *_lane_problems(base),
        *_campaign_name_problems(base),
        *_order_problems(base, weeks),
    ]
    if parsed.scenario.campaigns and not problems:
        problems += check_campaigns(parsed, inputs[schema.RESOURCES.name])
    if problems:
        raise ScenarioError("; ".join(problems))


@dataclass(frozen=True)
class _Base:
    """The file and what its base run has: names by kind, lanes and (product, resource) routings."""

    parsed: ScenarioFile
    known: dict[str, set[str]]
    lanes: set[tuple[str, str]]
    routings: set[tuple[str, str]]

    @classmethod
    def of(cls, parsed: ScenarioFile, inputs: Mapping[str, pl.DataFrame]) -> _Base:
        known = {
            "resource": set(inputs[schema.RESOURCES.name]["resource_id"].to_list()),
            "product": set(inputs[schema.PRODUCTS.name]["product_id"].to_list()),
            "family": set(inputs[schema.PRODUCTS.name]["family"].to_list()),
            "site": set(inputs[schema.SITES.name]["site_id"].to_list()),
        }
        lanes = set(inputs[schema.LANES.name].select("from_site", "to_site").iter_rows())
        routings = set(inputs[schema.ROUTINGS.name].select("product_id", "resource_id").iter_rows())
        return cls(parsed, known, lanes, routings)

    def at(self, *path: str | int) -> str:
        """``file line N: `` for the key at ``path``."""
        return f"{self.parsed.source} line {self.parsed.line(path)}: "

    def unknown(self, section: str, i: int, field: str, kind: str, value: str | None) -> list[str]:
        """The problem of ``section[i].field`` naming a ``kind`` the base does not have (none if it does)."""
        if value is None or value in self.known[kind]:
            return []
        names = self.known[kind]
        hint = ", ".join(sorted(names)[:_HINTS])
        return [f"{self.at(section, i, field)}{section}[{i}].{field}: "
                f"unknown {kind} {value!r} (known: {hint}{', ...' if len(names) > _HINTS else ''})"]


def _resource_problems(base: _Base) -> list[str]:
    s, problems = base.parsed.scenario, []
    for section, items in (("capacity", s.capacity), ("shutdowns", s.shutdowns)):
        for i, c in enumerate(items):
            problems += base.unknown(section, i, "resource", "resource", c.resource)
    return problems


def _demand_problems(base: _Base) -> list[str]:
    """Demand and service-level changes: their product, family and (demand) site."""
    s, problems = base.parsed.scenario, []
    for i, d in enumerate(s.demand):
        problems += base.unknown("demand", i, "product", "product", d.product)
        problems += base.unknown("demand", i, "family", "family", d.family)
        problems += base.unknown("demand", i, "site", "site", d.site)
    for i, sl in enumerate(s.service_levels):
        problems += base.unknown("service_levels", i, "product", "product", sl.product)
        problems += base.unknown("service_levels", i, "family", "family", sl.family)
    return problems


def _routing_problems(base: _Base) -> list[str]:
    """Yield and release changes: a known product and resource, and a routing making the product (there)."""
    s, problems = base.parsed.scenario, []
    for section, items in (("yields", s.yields), ("release", s.release)):
        for i, y in enumerate(items):
            problems += base.unknown(section, i, "product", "product", y.product)
            problems += base.unknown(section, i, "resource", "resource", y.resource)
            if y.product in base.known["product"] and not any(
                p == y.product and (y.resource is None or r == y.resource) for p, r in base.routings
            ):
                problems.append(f"{base.at(section, i)}{section}[{i}]: no routing makes {y.product!r}"
                                + (f" on {y.resource!r}" if y.resource else ""))
    return problems


def _lane_problems(base: _Base) -> list[str]:
    return [f"{base.at('lanes', i)}lanes[{i}]: unknown lane {lane.from_site} -> {lane.to_site}"
            for i, lane in enumerate(base.parsed.scenario.lanes)
            if (lane.from_site, lane.to_site) not in base.lanes]


def _campaign_name_problems(base: _Base) -> list[str]:
    """Campaign changes: a known resource, known products, and a routing making each product on it."""
    problems = []
    for i, c in enumerate(base.parsed.scenario.campaigns):
        problems += base.unknown("campaigns", i, "resource", "resource", c.resource)
        for field in ("from_product", "to_product"):
            problems += base.unknown("campaigns", i, field, "product", getattr(c, field))
            p = getattr(c, field)
            if (c.resource in base.known["resource"] and p in base.known["product"]
                    and (p, c.resource) not in base.routings):
                problems.append(f"{base.at('campaigns', i, field)}campaigns[{i}].{field}: no routing makes "
                                f"{p!r} on {c.resource!r}")
    return problems


def _order_problems(base: _Base, weeks: tuple[date, date] | None) -> list[str]:
    """Orders: a known product and site, and (``weeks`` given) a week the plan covers."""
    problems = []
    for i, o in enumerate(base.parsed.scenario.orders):
        problems += base.unknown("orders", i, "product", "product", o.product)
        problems += base.unknown("orders", i, "site", "site", o.site)
        if weeks is not None and not weeks[0] <= monday(o.week) <= weeks[1]:
            problems.append(f"{base.at('orders', i, 'week')}orders[{i}].week: "
                            f"{o.week} is outside the planned weeks {weeks[0]} to {weeks[1]}")
    return problems
