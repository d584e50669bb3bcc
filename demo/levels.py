"""Multi-level bill of materials for the demo network: drug substance, antigen bulk and filled bulk.

Part of the seeded demo generator (:mod:`demo.network`). It takes the single-level network (every product
made in one step) and splits two families into the steps a biologics plant runs:

- **monoclonals** ``MAB-…`` (vials): drug substance ``DS-MAB-…`` (grams, frozen, 52 weeks from manufacture)
  is made on the mAb's bioreactors (its former routings, per gram) and filled into vials on a new mAb
  filling line per plant (``BE-FLM1``…); a vial takes 0.1 g with 2% filling loss;
- **vaccines** ``VAC-…`` (doses): antigen bulk ``AG-VAC-…`` (dose equivalents, 26 weeks) is made on a new
  antigen fermenter per plant, formulated and filled into the filled bulk ``FB-VAC-…`` on the vaccine's
  former filling lines, and packed into the sold pack on a new packaging line per plant (5% formulation and
  1% packaging loss);
- flu vaccines, enzyme-replacement therapies and other biologics stay single-level.

Each sold unit costs about what it did (the routing cost is split over the steps) and the bioreactors and
filling lines carry about the load they did; the new lines run at ~70–80%. Intermediates start with two
lots at the plants that use them, covering about the lead time the extra step adds (two weeks of the
need of drug substance and filled bulk, three of antigen), so the levels add little free supply; the
drug-substance freezers (``storage``, family ``drug_substance``) hold about three weeks of the need. The batch records of the former
routings become the drug substance's and the filled bulk's (same resources).

Optionally (:func:`regional_packs`, ``demo_network(regional_packs=True)``) each vaccine's filled bulk feeds
one **pack per market** ``VAC-…-EU``, ``VAC-…-US`` …: a market is a DC region's first part (``EU-N`` → ``EU``),
each pack is sold only at its market's DCs (their orders, stock and receipts move to it), packed on the
vaccine's packaging line, and the one filled bulk is shared by the packs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from data_contracts import schema
from demo.supply import PRODUCTS_PER_RESOURCE, free_resources

__all__ = ["Level", "LEVELS", "add_levels", "market_of", "regional_packs"]


@dataclass(frozen=True)
class Level:
    """One intermediate step under a sold family.

    Attributes:
        sold_family: family of the sold products it feeds (directly or through ``parent_prefix``).
        prefix: id prefix of the intermediate (``DS-`` + the sold product's id).
        parent_prefix: prefix of the item that consumes it ("" = the sold product itself).
        family, unit, shelf: the intermediate's family, unit and shelf life in weeks.
        quantity_per, scrap: bill of materials of its parent.
        cost_share: share of the sold product's former routing cost this step carries.
        value_share: share of the sold product's unit cost the intermediate is worth (per parent unit).
    """

    sold_family: str
    prefix: str
    parent_prefix: str
    family: str
    unit: str
    shelf: int
    quantity_per: float
    scrap: float
    cost_share: float
    value_share: float


LEVELS: tuple[Level, ...] = (
    Level("monoclonal", "DS-", "", "drug_substance", "g", 52, 0.1, 0.02, 0.6, 0.5),
    Level("vaccine", "FB-", "", "filled_bulk", "doses", 0, 1.0, 0.01, 0.6, 0.7),
    Level("vaccine", "AG-", "FB-", "antigen_bulk", "dose-eq", 26, 1.0, 0.05, 0.25, 0.3),
)

#: new resources per plant: kind → (code, name, hours per week, target utilisation)
_NEW_LINES = {
    "mab_fill": ("FLM", "mAb filling line", 120.0, 0.75),
    "pack": ("PK", "Packaging line", 120.0, 0.70),
    "antigen": ("FM", "Antigen fermenter", 140.0, 0.80),
}
#: weeks of need an intermediate's opening lots cover, by id prefix; weeks of need a freezer holds
_COVER_WEEKS = {"DS-": 2.0, "FB-": 2.0, "AG-": 3.0}
_FREEZER_WEEKS = 3.0


def add_levels(
    frames: dict[str, pl.DataFrame], load_units: np.ndarray, level: np.ndarray, run_date: date
) -> dict[str, pl.DataFrame]:
    """The network with monoclonals and vaccines made over several levels (see the module docstring).

    Args:
        frames: the single-level network (entity → frame), products in catalog order.
        load_units: expected weekly demand per product of ``frames["products"]`` (catalog order).
        level: each product's weekly demand level per DC (sizes lines for products without future demand).
        run_date: the planning date (inventory is as of it).

    Returns:
        Every entity, with ``bom`` and ``storage`` filled and the products, resources, routings, inventory
        and batches extended.
    """
    products, routings = frames[schema.PRODUCTS.name], frames[schema.ROUTINGS.name]
    resources = frames[schema.RESOURCES.name]
    ref = pl.DataFrame({"product_id": products["product_id"], "load": np.where(load_units > 0, load_units, level)})
    sold = products.join(ref, on="product_id").filter(pl.col("family").is_in(["monoclonal", "vaccine"]))
    plant_of = resources.select("resource_id", plant=pl.col("site_id"))
    former = routings.join(sold.select("product_id", "family", "load"), on="product_id").join(
        plant_of, on="resource_id"
    )
    new_products, new_routings, bom_rows = [], [], []
    for lv in LEVELS:
        members = sold.filter(pl.col("family") == lv.sold_family)
        parent = pl.lit(lv.parent_prefix) + pl.col("product_id")
        item = pl.lit(lv.prefix) + pl.col("product_id")
        per_sold = lv.quantity_per / (1 - lv.scrap)
        new_products.append(
            members.select(
                item.alias("product_id"),
                pl.concat_str(  # the sold product's name without its [launch] / [phase-out] tag
                    pl.lit(f"{lv.family.replace('_', ' ').capitalize()} of "),
                    pl.col("name").str.replace(r" \[[a-z-]+\]$", ""),
                ).alias("name"),
                pl.lit(lv.family).alias("family"),
                pl.lit(lv.unit).alias("unit"),
                (pl.lit(lv.shelf) if lv.shelf else pl.col("shelf_life_weeks")).cast(pl.Int64).alias("shelf_life_weeks"),
                (pl.col("unit_cost") * lv.value_share / per_sold).round(2).alias("unit_cost"),
                (pl.col("unit_cost") * lv.value_share / per_sold * 0.003).round(4).alias("holding_cost_per_week"),
                pl.lit(0.0).alias("backlog_penalty"),  # no demand of its own
                "priority",
                "service_level",
                "shelf_life_from",
            )
        )
        bom_rows.append(
            members.select(
                parent.alias("parent_id"),
                item.alias("component_id"),
                pl.lit(lv.quantity_per).alias("quantity_per"),
                pl.lit(lv.scrap).alias("scrap"),
            )
        )
    # drug substance and filled bulk take over the former routings (bioreactors, filling lines), per unit
    # of the intermediate; the hours per sold unit stay about what they were
    took = pl.concat(
        [
            former.filter(pl.col("family") == lv.sold_family).with_columns(
                product_id=pl.lit(lv.prefix) + pl.col("product_id"),
                hours_per_unit=(pl.col("hours_per_unit") * 0.96 / lv.quantity_per).round(8),
                cost_per_unit=(pl.col("cost_per_unit") * lv.cost_share / lv.quantity_per).round(2),
                release_weeks=pl.max_horizontal(pl.col("release_weeks") - 1, pl.lit(2)).cast(pl.Int64),
                min_batch=pl.col("min_batch") * lv.quantity_per,
                batch_size=pl.col("batch_size") * lv.quantity_per,
            )
            for lv in LEVELS[:2]
        ]
    )
    new_routings.append(took.select(schema.ROUTINGS.column_names))
    # new lines per plant: sold mAbs filled, sold vaccines packed, antigen made where the former routing was
    line_rows, line_routings = [], []
    for kind, family, item_prefix, cost_share, yld, release in (
        ("mab_fill", "monoclonal", "", 0.4, 0.98, 2),
        ("pack", "vaccine", "", 0.15, 0.995, 2),
        ("antigen", "vaccine", "AG-", 0.25, 0.9, 3),
    ):
        lines, routed = _new_lines(former.filter(pl.col("family") == family), kind)
        line_rows.append(lines)
        line_routings.append(
            routed.select(
                (pl.lit(item_prefix) + pl.col("product_id")).alias("product_id"),
                "resource_id",
                "hours_per_unit",
                pl.lit(yld).alias("yield"),
                (pl.col("cost_per_unit") * cost_share).round(2).alias("cost_per_unit"),
                pl.lit(release, pl.Int64).alias("release_weeks"),
                pl.lit(None, pl.Float64).alias("min_batch"),
                pl.lit(None, pl.Float64).alias("batch_size"),
            )
        )
    keep = routings.join(former.select("product_id", "resource_id"), on=["product_id", "resource_id"], how="anti")
    all_products = pl.concat([products, *[p.cast(schema.PRODUCTS.schema) for p in new_products]])
    out = dict(frames)
    out[schema.PRODUCTS.name] = all_products
    out[schema.RESOURCES.name] = pl.concat(
        [resources, *[free_resources(lines) for lines in line_rows]]
    )
    out[schema.ROUTINGS.name] = (
        pl.concat([keep, *[r.cast(schema.ROUTINGS.schema) for r in new_routings + line_routings]])
        .unique(["product_id", "resource_id"], keep="first", maintain_order=True)
        .sort("product_id", "resource_id")
    )
    bom = pl.concat(bom_rows).cast(schema.BOM.schema)
    out[schema.BOM.name] = bom
    need = _weekly_need(former, bom)
    out[schema.INVENTORY.name] = pl.concat([frames[schema.INVENTORY.name], _opening(need, all_products, run_date)])
    out[schema.STORAGE.name] = (
        need.join(all_products.select("product_id", "family"), on="product_id")
        .filter(pl.col("family") == "drug_substance")
        .group_by(pl.col("plant").alias("site_id"), "family")
        .agg((pl.col("need").sum() * _FREEZER_WEEKS).round(0).alias("capacity"))
        .with_columns(overflow_cost=pl.lit(None, pl.Float64))  # a freezer is a hard limit
        .sort("site_id")
        .cast(schema.STORAGE.schema)
    )
    out[schema.BATCHES.name] = _batches(frames[schema.BATCHES.name], former)
    return out


def _new_lines(rows: pl.DataFrame, kind: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """New lines of ``kind`` at each plant where ``rows`` (former routings) make something, one per
    :data:`~demo.supply.PRODUCTS_PER_RESOURCE` products there, products dealt out over them in id order;
    each line's hours per unit sized so its primary products' load fills ``util`` of its hours.

    Returns:
        The ``resources`` rows and ``product_id, resource_id, hours_per_unit, cost_per_unit`` per routing.
    """
    code, label, hours, util = _NEW_LINES[kind]
    primary = rows.sort("product_id", "hours_per_unit").unique("product_id", keep="first")  # the fastest
    here = (
        rows.with_columns(
            primary=pl.struct("product_id", "resource_id").is_in(
                primary.select(pl.struct("product_id", "resource_id")).to_series().implode()
            ),
            k=pl.col("product_id").rank("dense").over("plant").cast(pl.Int64) - 1,
            n=pl.col("product_id").n_unique().over("plant"),
        )
        .with_columns(line=pl.col("k") % ((pl.col("n") + PRODUCTS_PER_RESOURCE - 1) // PRODUCTS_PER_RESOURCE) + 1)
        .with_columns(
            resource_id=pl.concat_str(pl.col("plant").str.split("-").list.get(1), pl.lit(f"-{code}"),
                                      pl.col("line").cast(pl.String))
        )
    )
    load = here.group_by("resource_id").agg(pl.col("load").filter(pl.col("primary")).sum())
    routed = here.join(load.rename({"load": "line_load"}), on="resource_id").with_columns(
        hours_per_unit=(hours * util / pl.max_horizontal("line_load", pl.lit(1.0))).round(8)
    )
    lines = (
        here.select("resource_id", pl.col("plant").alias("site_id"), "line")
        .unique("resource_id")
        .sort("resource_id")
        .select(
            "resource_id",
            "site_id",
            pl.format(f"{label} #{{}} ({{}})", "line", "site_id").alias("name"),
            pl.lit(hours).alias("hours_per_week"),
        )
    )
    return lines, routed.select("product_id", "resource_id", "hours_per_unit", "cost_per_unit")


def _weekly_need(former: pl.DataFrame, bom: pl.DataFrame) -> pl.DataFrame:
    """Weekly gross need of every intermediate at the plant of its sold product's primary routing."""
    primary = (
        former.sort("product_id", "hours_per_unit")
        .unique("product_id", keep="first", maintain_order=True)
        .select("product_id", "plant", "load")
    )
    per = bom.select("parent_id", "component_id", f=pl.col("quantity_per") / (1 - pl.col("scrap")))
    direct = primary.join(per, left_on="product_id", right_on="parent_id").select(
        pl.col("component_id").alias("product_id"), "plant", need=pl.col("load") * pl.col("f")
    )
    second = direct.join(per, left_on="product_id", right_on="parent_id").select(
        pl.col("component_id").alias("product_id"), "plant", need=pl.col("need") * pl.col("f")
    )
    return pl.concat([direct, second])


def _opening(need: pl.DataFrame, products: pl.DataFrame, run_date: date) -> pl.DataFrame:
    """Two released lots per intermediate at its plant (:data:`_COVER_WEEKS` of need), expiring well after the
    start (three fifths and half of the shelf life left)."""
    lots = need.join(products.select("product_id", "shelf_life_weeks"), on="product_id").with_columns(
        total=(pl.col("need") * pl.col("product_id").str.slice(0, 3).replace_strict(_COVER_WEEKS)).round(0)
    )
    parts = [
        lots.select(
            pl.lit(run_date).alias("as_of_date"),
            "product_id",
            pl.col("plant").alias("site_id"),
            pl.concat_str(pl.lit(f"OPEN-{k}-"), "product_id").alias("lot_id"),
            (pl.col("total") * share).round(0).alias("quantity"),
            (pl.lit(run_date) + pl.duration(weeks=(pl.col("shelf_life_weeks") * left).cast(pl.Int64))).alias(
                "expiry_date"
            ),
            pl.lit("released").alias("status"),
        )
        for k, (share, left) in enumerate(((0.6, 0.6), (0.4, 0.5)))
    ]
    return pl.concat(parts).filter(pl.col("quantity") > 0).cast(schema.INVENTORY.schema)


def _batches(batches: pl.DataFrame, former: pl.DataFrame) -> pl.DataFrame:
    """Batch records of the former routings become the intermediate's made on them (quantities per unit of
    the intermediate)."""
    moved = {lv.sold_family: lv for lv in LEVELS[:2]}
    fam = former.select("product_id", "resource_id", "family")
    frame = batches.join(fam, on=["product_id", "resource_id"], how="left")
    prefix = pl.col("family").replace_strict({k: v.prefix for k, v in moved.items()}, default="")
    qp = pl.col("family").replace_strict({k: v.quantity_per for k, v in moved.items()}, default=1.0)
    return frame.with_columns(
        product_id=prefix + pl.col("product_id"),
        planned_qty=pl.col("planned_qty") * qp,
        actual_qty=pl.col("actual_qty") * qp,
    ).select(schema.BATCHES.column_names).cast(schema.BATCHES.schema)



def market_of(region: pl.Expr) -> pl.Expr:
    """A DC region's market: its first part (``EU-N`` → ``EU``, ``APAC`` → ``APAC``)."""
    return region.str.split("-").list.first()


def regional_packs(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The multi-level network with every vaccine pack split into one pack per market it is ordered in.

    A sold vaccine ``V`` filled from ``FB-V`` becomes ``V-<market>`` for every market whose DCs order it: its
    orders, stock and receipts at a DC go to its market's pack; stock and receipts at a plant to the pack of
    the plant's own market when there is one, else of the first market; each pack keeps ``V``'s attributes
    (name tagged with the market), routings (the packaging line) and bill of materials (``FB-V``). Vaccines
    without orders, and the other products, stay as they are.

    Args:
        frames: the network of :func:`add_levels` (entity → frame).
    """
    sites = frames[schema.SITES.name].select("site_id", "site_type", market=market_of(pl.col("region")))
    bom = frames[schema.BOM.name]
    vaccines = bom.filter(pl.col("component_id") == pl.lit("FB-") + pl.col("parent_id"))["parent_id"]
    orders = frames[schema.ORDERS.name]
    packs = (
        orders.filter(pl.col("product_id").is_in(vaccines.implode()))
        .join(sites.filter(pl.col("site_type") == "dc"), on="site_id", validate="m:1")
        .select("product_id", "market")
        .unique()
        .sort("product_id", "market")
        .with_columns(pack=pl.col("product_id") + "-" + pl.col("market"))
    )
    if packs.height == 0:
        return frames
    first = packs.group_by("product_id").agg(pl.col("market").first().alias("first"))

    def moved(frame: pl.DataFrame) -> pl.DataFrame:
        """Rows of a split vaccine at a site moved to the pack of that site's market (or the first)."""
        cols = frame.columns
        out = (
            frame.join(sites.select("site_id", "market"), on="site_id", how="left", validate="m:1")
            .join(packs.select("product_id", "market", "pack"), on=["product_id", "market"], how="left",
                  validate="m:1")
            .join(first, on="product_id", how="left", validate="m:1")
            .with_columns(
                product_id=pl.when(pl.col("pack").is_not_null()).then(pl.col("pack"))
                .when(pl.col("first").is_not_null()).then(pl.col("product_id") + "-" + pl.col("first"))
                .otherwise(pl.col("product_id"))
            )
        )
        return out.select(cols)

    def per_pack(frame: pl.DataFrame, col: str = "product_id") -> pl.DataFrame:
        """Rows of a split vaccine repeated for each of its packs (id in ``col``)."""
        split = frame.join(packs.select("product_id", "pack", "market"), left_on=col, right_on="product_id")
        return pl.concat([
            frame.filter(~pl.col(col).is_in(packs["product_id"].implode())),
            split.with_columns(pl.col("pack").alias(col)).select(frame.columns)
            if "name" not in frame.columns or col != "product_id"
            else split.with_columns(pl.col("pack").alias(col),
                                    name=pl.col("name") + " — " + pl.col("market") + " pack").select(frame.columns),
        ])

    out = dict(frames)
    out[schema.PRODUCTS.name] = per_pack(frames[schema.PRODUCTS.name])
    out[schema.ROUTINGS.name] = per_pack(frames[schema.ROUTINGS.name]).sort("product_id", "resource_id")
    out[schema.BOM.name] = per_pack(bom, "parent_id").sort("parent_id", "component_id")
    for entity in (schema.ORDERS.name, schema.INVENTORY.name, schema.RECEIPTS.name):
        out[entity] = moved(frames[entity])
    return out
