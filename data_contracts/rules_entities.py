"""The checks particular to one input entity, beyond the column checks every entity has: lanes (a lane
from a site to itself, a cycle of zero lead time), batch records (actual far above planned), the bill of
materials (its cycles), campaign lengths and changeovers, a routing whose product expires before its release,
product families spelt two ways, a hard storage limit below the stock on hand.

:func:`data_contracts.rules.entity_checks` puts them after the column checks, in a stable order.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema
from data_contracts.checks import Check, flag


def _lane_checks(t: schema.Table, zero_lead_cycle: pl.Expr | None) -> list[Check]:
    if t.name != schema.LANES.name:
        return []
    checks = [
        flag(
            "self_loop",
            "lane_self_loop",
            ("from_site", "to_site"),
            pl.col("from_site") == pl.col("to_site"),
            "is a lane from a site to itself",
        )
    ]
    if zero_lead_cycle is not None:
        checks.append(
            flag(
                "zero_lead_cycle",
                "zero_lead_cycle",
                ("from_site", "to_site", "lead_time_weeks"),
                zero_lead_cycle,
                "lies on a cycle of lanes with zero lead time",
                unless=("lane_self_loop",),
            )
        )
    return checks


def _bom_checks(t: schema.Table, cycles: pl.DataFrame | None) -> list[Check]:
    """One ``bom_cycle`` check per cycle of the bill of materials, naming its path; every row on it breaks it.

    An item that needs itself has no finite dependent demand: which row is wrong is for an operator to decide.
    """
    if t.name != schema.BOM.name or cycles is None or cycles.height == 0:
        return []
    checks = []
    for k, cycle in enumerate(cycles.get_column("cycle").unique(maintain_order=True).to_list()):
        on_it = cycles.filter(pl.col("cycle") == cycle)
        checks.append(
            flag(
                f"bom_cycle_{k}",
                "bom_cycle",
                ("parent_id", "component_id"),
                pl.struct("parent_id", "component_id").is_in(
                    on_it.select(pl.struct("parent_id", "component_id")).to_series().implode()
                ),
                f"lies on the cycle {cycle}: an item cannot need itself",
                unless=("unique",),
                label=cycle,
            )
        )
    return checks


def _campaign_checks(t: schema.Table, refs: dict[str, pl.DataFrame]) -> list[Check]:
    """A campaign whose minimum length exceeds its maximum; a changeover row naming both or neither of
    a resource and a site, a switch from a product to itself, or a resource that is not campaign-run
    (the planning model refuses all three, so the contracts say so first, with the row)."""
    if t.name == schema.RESOURCES.name:
        return [flag("campaign_min_above_max", "campaign_length_order", ("min_campaign_weeks", "max_campaign_weeks"),
                     pl.col("min_campaign_weeks") > pl.col("max_campaign_weeks"),
                     "is a minimum above the maximum: lower min_campaign_weeks or raise max_campaign_weeks")]
    if t.name == schema.CHANGEOVERS.name:
        resources = refs[schema.RESOURCES.name]
        free = resources.filter(~pl.col("campaign").fill_null(False)).get_column("resource_id")
        return [flag("changeover_scope", "resource_or_site", ("resource_id", "site_id"),
                     pl.col("resource_id").is_null() == pl.col("site_id").is_null(),
                     "names both or neither of resource_id and site_id: give exactly one"),
                flag("changeover_to_itself", "changeover_self", ("from_product_id", "to_product_id"),
                     pl.col("from_product_id") == pl.col("to_product_id"),
                     "is a switch from a product to itself: a campaign goes on without one; remove the row"),
                flag("changeover_not_campaign", "changeover_campaign_resource", ("resource_id",),
                     _in("resource_id", free),
                     "is not campaign-run, so it has no changeovers: set campaign to true in resources or "
                     "remove the row", unless=("known_resource",))]
    return []


def _in(column: str, values: pl.Series) -> pl.Expr:
    return pl.col(column).is_not_null() & pl.col(column).is_in(values.implode())


def _shelf_life_checks(t: schema.Table, refs: dict[str, pl.DataFrame]) -> list[Check]:
    """A routing whose product's shelf life, counted from manufacture, ends before its QC release: every
    unit it makes would expire unreleased (the plan could only waste it), so the row is refused."""
    if t.name != schema.ROUTINGS.name:
        return []
    products = refs[schema.PRODUCTS.name]
    from_release = (
        pl.col("shelf_life_from") == "release" if "shelf_life_from" in products.columns else pl.lit(False)
    )
    short = products.filter(pl.col("shelf_life_weeks").is_not_null() & ~from_release.fill_null(False))
    life = pl.col("product_id").replace_strict(
        short.get_column("product_id"), short.get_column("shelf_life_weeks"), default=None,
        return_dtype=pl.Int64,
    )
    return [flag("expires_before_release", "expires_before_release", ("product_id", "release_weeks"),
                 life <= pl.col("release_weeks"),
                 "is released no sooner than the product's shelf_life_weeks (counted from manufacture) "
                 "ends: every unit would expire before its release; raise shelf_life_weeks in products "
                 "(or set shelf_life_from to release) or lower release_weeks",
                 unless=("known_product",))]


def _storage_checks(t: schema.Table, refs: dict[str, pl.DataFrame]) -> list[Check]:
    """A hard storage limit below what the site already holds of the family (every lot of the latest
    inventory snapshot, released or in quarantine): the plan cannot keep it (Infeasible) or, where a lane
    leads away, ships the stock off to be held elsewhere. A soft limit (``overflow_cost``) pays for it."""
    inventory, products = refs.get(schema.INVENTORY.name), refs.get(schema.PRODUCTS.name)
    if t.name != schema.STORAGE.name or inventory is None or products is None or inventory.height == 0:
        return []
    held = (
        inventory.filter(pl.col("as_of_date") == pl.col("as_of_date").max())
        .join(products.select("product_id", "family"), on="product_id")
        .group_by("site_id", "family")
        .agg(pl.col("quantity").sum())
        .select(key=pl.concat_str("site_id", pl.lit("\x1f"), "family"), held="quantity")
    )
    on_hand = pl.concat_str("site_id", pl.lit("\x1f"), "family").replace_strict(
        held.get_column("key"), held.get_column("held"), default=0.0, return_dtype=pl.Float64)
    return [flag("storage_below_stock", "storage_below_stock", ("site_id", "family", "capacity"),
                 pl.col("overflow_cost").is_null() & (pl.col("capacity") < on_hand - 1e-6),
                 "is below what the site holds of the family in the inventory snapshot: raise capacity to "
                 "at least that, or give an overflow_cost (a soft limit)",
                 unless=("known_site", "known_family", "non_negative"))]


def _family_checks(t: schema.Table) -> list[Check]:
    """Product families spelt two ways but for letter case (``drug_substance``, ``Drug_Substance``): a
    storage limit names one spelling and would silently not hold the other's products. Every row of
    every spelling is refused: which one is meant is for an operator to decide."""
    if t.name != schema.PRODUCTS.name:
        return []
    folded = pl.col("family").str.to_lowercase().str.replace_all(r"\s", "")
    return [flag("family_spellings", "family_spelling", ("family",),
                 pl.col("family").n_unique().over(folded) > 1,
                 "is spelt another way in other rows (letter case or blanks differ): families are matched "
                 "exactly (storage limits name them), so write every product's family the same way")]


def _batch_checks(t: schema.Table) -> list[Check]:
    """Batch records whose actual quantity is implausible next to the plan (a typo, a unit mix-up)."""
    if t.name != schema.BATCHES.name:
        return []
    return [flag("actual_over_planned", "actual_above_planned", ("actual_qty", "planned_qty"),
                  pl.col("actual_qty") > 2 * pl.col("planned_qty"), "is more than twice the planned quantity")]
