"""A scenario's campaign changes: applied to the resources and their changeovers, and refused where they
cannot hold once applied.

A campaign entry of a scenario file (:class:`optimization.scenario.CampaignChange`) either sets a resource's
own campaign columns (``campaign``, changeover hours and cost, campaign lengths) or, with
``from_product``/``to_product``, one named switch on it: a ``changeovers`` row of the resource, which wins
over its site's row. Entries apply in file order, so a later entry wins over an earlier one. A check has
to look at the resources after every change (a file may turn campaigns on and set a switch in one go), so
:func:`check_campaigns` applies them first.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema
from optimization.scenario import CampaignChange, ScenarioFile

__all__ = ["campaign_changeovers", "campaign_resources", "check_campaigns"]

_CAMPAIGN_FIELDS = ("changeover_hours", "changeover_cost", "min_campaign_weeks", "max_campaign_weeks")
_CAMPAIGN_SETTINGS = (*_CAMPAIGN_FIELDS, "changeover_hours_percent")


def campaign_resources(changes: list[CampaignChange], resources: pl.DataFrame) -> pl.DataFrame:
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


def campaign_changeovers(changes: list[CampaignChange], resources: pl.DataFrame,
                         changeovers: pl.DataFrame) -> pl.DataFrame:
    """The changeovers with every named switch set on its resource (a resource's row, which wins over its
    site's; the value not given is the switch's current one), every switch of a resource given
    ``changeover_hours_percent`` changed by it (its site's rows copied to the resource first), and no row left
    on a resource that no longer runs campaigns.

    Args:
        changes: the file's campaign entries, in file order.
        resources: the resources after the changes (:func:`campaign_resources`).
        changeovers: the base's changeovers table.
    """
    site = dict(resources.select("resource_id", "site_id").iter_rows())
    default = {r: (h, c) for r, h, c in resources.select("resource_id", "changeover_hours",
                                                         "changeover_cost").iter_rows()}
    for c in changes:
        if c.changeover_hours_percent is not None:
            changeovers = _scale_switches(c, site[c.resource], changeovers)
        if c.is_switch:
            changeovers = _set_switch(c, site[c.resource], default[c.resource], changeovers)
    off = resources.filter(~pl.col("campaign").fill_null(False))["resource_id"]
    return changeovers.filter(pl.col("resource_id").is_null() | ~pl.col("resource_id").is_in(off.implode()))


def _scale_switches(c: CampaignChange, site_id: str, changeovers: pl.DataFrame) -> pl.DataFrame:
    """Every switch of ``c``'s resource with its hours changed by ``changeover_hours_percent``: the site's
    rows the resource has no own row for are copied to it first, so the change stays on this resource."""
    keys = ["from_product_id", "to_product_id"]
    mine = pl.col("resource_id").eq_missing(c.resource)
    spread = (changeovers.filter(pl.col("resource_id").is_null() & (pl.col("site_id") == site_id))
              .with_columns(resource_id=pl.lit(c.resource), site_id=pl.lit(None, pl.String))
              .join(changeovers.filter(mine), on=keys, how="anti"))
    return pl.concat([changeovers, spread.select(changeovers.columns)]).with_columns(
        pl.when(mine).then(pl.col("hours") * (1 + c.changeover_hours_percent / 100))
        .otherwise(pl.col("hours")).alias("hours"))


def _set_switch(c: CampaignChange, site_id: str, default: tuple[float | None, float | None],
                changeovers: pl.DataFrame) -> pl.DataFrame:
    """The changeovers with ``c``'s switch set on its resource's own row; the value the entry does not give
    is the switch's current one: the resource's row, else its site's, else the resource's ``default``
    (``changeover_hours, changeover_cost``)."""
    pair = (pl.col("from_product_id") == c.from_product) & (pl.col("to_product_id") == c.to_product)
    own = pair & pl.col("resource_id").eq_missing(c.resource)  # a site row (null) is not own
    current = (changeovers.filter(own).select("hours", "cost").rows()
               or changeovers.filter(pair & pl.col("resource_id").is_null()
                                     & (pl.col("site_id") == site_id)).select("hours", "cost").rows()
               or [default])[0]
    row = pl.DataFrame({
        "resource_id": [c.resource], "site_id": [None], "from_product_id": [c.from_product],
        "to_product_id": [c.to_product],
        "hours": [c.changeover_hours if c.changeover_hours is not None else current[0] or 0.0],
        "cost": [c.changeover_cost if c.changeover_cost is not None else current[1] or 0.0],
    }, schema={k: v for k, v in changeovers.schema.items() if k in schema.CHANGEOVERS.column_names})
    return pl.concat([changeovers.filter(~own), row], how="diagonal_relaxed").select(changeovers.columns)


def check_campaigns(parsed: ScenarioFile, resources: pl.DataFrame) -> list[str]:
    """Campaign changes that cannot hold once applied: a campaign setting or switch on a resource that is not
    campaign-run after the file's changes; a minimum campaign above the maximum.

    Returns:
        One message per problem, naming the file's line.
    """
    s, problems = parsed.scenario, []
    after = campaign_resources(s.campaigns, resources)
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
