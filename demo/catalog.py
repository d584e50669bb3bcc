"""Master data of the demo network: product families, products, sites and their demand patterns.

Part of the seeded demo generator (:mod:`demo.network`). Everything here is a pure function of the
size knobs and a numpy ``Generator``; frames come out with the input contract's dtypes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from data_contracts import schema

__all__ = ["Family", "FAMILIES", "Catalog", "build_catalog", "build_sites", "dc_sites", "PLANTS"]


@dataclass(frozen=True)
class Family:
    """One product family of the demo and how its products behave.

    Attributes:
        name: value of ``products.family``.
        prefixes: product id prefixes, cycled (``FLU-Q``, ``FLU-P`` ...).
        share: share of the products in this family.
        unit: unit of measure.
        cost: unit cost range.
        shelf: shelf life range in weeks.
        priority: priorities cycled over the family's products.
        kind: resource kind making it (``fill`` = filling line, ``bio`` = bioreactor).
        release: release_weeks range (production + QC).
        level: weekly mean demand range per DC, in units.
        occurrence: probability range that a week has demand at a DC (1 = smooth).
        cv: coefficient of variation range of non-zero weekly demand.
        lines: mean extra order lines per non-zero week (Poisson), at the product's average level.
        lead_days: mean order lead time in days (order date to requested Monday).
        names: product name stems, cycled.
    """

    name: str
    prefixes: tuple[str, ...]
    share: float
    unit: str
    cost: tuple[float, float]
    shelf: tuple[int, int]
    priority: tuple[int, ...]
    kind: str
    release: tuple[int, int]
    level: tuple[float, float]
    occurrence: tuple[float, float]
    cv: tuple[float, float]
    lines: float
    lead_days: float
    names: tuple[str, ...]


FAMILIES: tuple[Family, ...] = (
    Family("flu_vaccine", ("FLU-Q", "FLU-P", "FLU-H"), 0.10, "doses", (4.0, 12.0), (26, 40), (2,), "fill",
           (2, 4), (4000.0, 12000.0), (1.0, 1.0), (0.20, 0.30), 7.0, 14.0,
           ("Influenza quadrivalent", "Influenza paediatric", "Influenza high-dose")),
    Family("monoclonal", ("MAB",), 0.30, "vials", (300.0, 1500.0), (52, 104), (1,), "bio",
           (3, 6), (150.0, 1500.0), (1.0, 1.0), (0.12, 0.25), 6.0, 10.0,
           ("Anti-PD-1 mAb", "Anti-HER2 mAb", "Anti-IL-6 mAb", "Anti-TNF mAb", "Anti-CD20 mAb",
            "Anti-RSV mAb", "Anti-IL-17 mAb", "Anti-CGRP mAb")),
    Family("enzyme_replacement", ("ERT",), 0.15, "vials", (1500.0, 5000.0), (52, 104), (1,), "bio",
           (4, 6), (10.0, 60.0), (0.12, 0.30), (0.35, 0.60), 0.4, 21.0,
           ("Gaucher ERT", "Fabry ERT", "Pompe ERT", "MPS I ERT", "MPS II ERT", "MPS IVA ERT", "CLN2 ERT")),
    Family("vaccine", ("VAC",), 0.25, "doses", (10.0, 60.0), (52, 104), (2, 2, 3), "fill",
           (2, 4), (1000.0, 8000.0), (0.75, 1.0), (0.20, 0.90), 7.0, 12.0,
           ("Hepatitis B vaccine", "Yellow fever vaccine", "MMR vaccine", "Typhoid vaccine",
            "DTaP-IPV vaccine", "Rabies vaccine", "Pneumococcal conjugate vaccine", "JE vaccine",
            "Meningococcal ACWY vaccine", "Zoster vaccine")),
    Family("biologic", ("BIO",), 0.20, "vials", (100.0, 800.0), (52, 104), (3, 2), "bio",
           (3, 5), (100.0, 2500.0), (0.50, 0.85), (0.60, 1.00), 4.0, 10.0,
           ("Albumin 20%", "IVIG 10%", "Factor VIII", "Insulin glargine", "Erythropoietin",
            "Filgrastim", "Antithrombin", "Heparin")),
)

#: plants: (site_id, name, region)
PLANTS: tuple[tuple[str, str, str], ...] = (
    ("PL-BE", "Wavre plant (Belgium)", "EU"),
    ("PL-US", "Durham plant (USA)", "US"),
)

_DC_REGIONS: tuple[tuple[str, str], ...] = (
    ("EU-N", "Northern Europe"), ("EU-S", "Southern Europe"), ("US-E", "US East"), ("US-W", "US West"),
    ("APAC", "Asia-Pacific"), ("LATAM", "Latin America"), ("MEA", "Middle East & Africa"), ("CA", "Canada"),
    ("UK", "United Kingdom"), ("JP", "Japan"), ("IN", "India"), ("ANZ", "Australia & New Zealand"),
)


def dc_sites(dcs: int) -> list[tuple[str, str, str]]:
    """DC (site_id, name, region) triples; names beyond the 12 regions get a numeric suffix."""
    out = []
    for i in range(dcs):
        code, label = _DC_REGIONS[i % len(_DC_REGIONS)]
        rnd = i // len(_DC_REGIONS)
        suffix = "" if rnd == 0 else f"-{rnd + 1}"
        out.append((f"DC-{code}{suffix}", f"{label} DC{suffix.replace('-', ' #')}", f"{code}{suffix}"))
    return out


def build_sites(dcs: int) -> pl.DataFrame:
    """The sites frame: the two plants, then ``dcs`` DCs."""
    rows = [(s, n, "plant", r) for s, n, r in PLANTS] + [(s, n, "dc", r) for s, n, r in dc_sites(dcs)]
    return pl.DataFrame(rows, schema=schema.SITES.schema, orient="row")


def family_counts(products: int) -> list[int]:
    """Products per family by largest remainder, at least one each."""
    shares = np.array([f.share for f in FAMILIES])
    raw = shares * products
    counts = np.maximum(np.floor(raw).astype(int), 1)
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    i = 0
    while counts.sum() < products:
        counts[order[i % len(order)]] += 1
        i += 1
    while counts.sum() > products:
        j = int(np.argmax(counts))
        counts[j] -= 1
    return counts.tolist()


@dataclass(frozen=True)
class Catalog:
    """Products plus the hidden demand parameters the other demo modules draw from (arrays by product)."""

    products: pl.DataFrame
    family_idx: np.ndarray  # index into FAMILIES
    pattern: np.ndarray  # seasonal_flu, trend, intermittent, smooth, erratic
    level: np.ndarray  # weekly mean per DC at full life
    occurrence: np.ndarray
    cv: np.ndarray
    trend: np.ndarray  # growth per year
    lines: np.ndarray
    lead_days: np.ndarray
    launch: np.ndarray  # bool
    phase_out: np.ndarray  # bool


def special_counts(products: int) -> int:
    """How many launch (and how many phase-out) products a network of this size has."""
    return max(1, round(products / 40))


def build_catalog(products: int, rng: np.random.Generator) -> Catalog:
    """Products with their family behaviour, special cases and costs.

    The launch products are the last monoclonals, the phase-out products the last vaccines; their names
    end in ``[launch]`` / ``[phase-out]``.
    """
    counts = family_counts(products)
    ids, names, fam_idx, pattern, prio = [], [], [], [], []
    launch, phase = [], []
    n_special = special_counts(products)
    for fi, (fam, n) in enumerate(zip(FAMILIES, counts, strict=True)):
        width = max(2, len(str(n)))
        per_prefix: dict[str, int] = {}
        for k in range(n):
            pre = fam.prefixes[k % len(fam.prefixes)]
            per_prefix[pre] = per_prefix.get(pre, 0) + 1
            pid = f"{pre}{per_prefix[pre]:0{width}d}" if pre.startswith("FLU") else \
                f"{pre}-{per_prefix[pre]:0{width}d}"
            stem = fam.names[(k if not pre.startswith("FLU") else fam.prefixes.index(pre)) % len(fam.names)]
            is_launch = fam.name == "monoclonal" and k >= n - n_special
            is_phase = fam.name == "vaccine" and k >= n - n_special
            tag = " [launch]" if is_launch else " [phase-out]" if is_phase else ""
            ids.append(pid)
            names.append(f"{stem} {pid}{tag}")
            fam_idx.append(fi)
            prio.append(fam.priority[k % len(fam.priority)])
            launch.append(is_launch)
            phase.append(is_phase)
            if fam.name == "flu_vaccine":
                pattern.append("seasonal_flu")
            elif fam.name == "monoclonal":
                pattern.append("trend")
            elif fam.name == "enzyme_replacement":
                pattern.append("intermittent")
            elif fam.name == "vaccine":
                pattern.append("smooth" if k % 2 == 0 else "erratic")
            else:
                pattern.append("erratic")
    n = len(ids)
    fam_idx_a = np.array(fam_idx)
    pattern_a = np.array(pattern)

    def draw(attr: str) -> np.ndarray:
        lo = np.array([getattr(FAMILIES[i], attr)[0] for i in fam_idx_a], dtype=float)
        hi = np.array([getattr(FAMILIES[i], attr)[1] for i in fam_idx_a], dtype=float)
        return lo + (hi - lo) * rng.random(n)

    unit_cost = np.round(draw("cost"), 2)
    lo = np.array([FAMILIES[i].level[0] for i in fam_idx_a])
    hi = np.array([FAMILIES[i].level[1] for i in fam_idx_a])
    level = np.exp(rng.uniform(np.log(lo), np.log(hi)))  # log-uniform on the family range
    occurrence = draw("occurrence")
    cv = draw("cv")
    smooth_vac = pattern_a == "smooth"
    occurrence = np.where(smooth_vac, 1.0, occurrence)
    cv = np.where(smooth_vac, np.minimum(cv, 0.3), np.where(pattern_a == "erratic", np.maximum(cv, 0.6), cv))
    trend = np.where(pattern_a == "trend", rng.uniform(-0.08, 0.25, n), rng.uniform(-0.03, 0.06, n))
    shelf = np.round(draw("shelf")).astype(np.int64)
    # ~20% without expiry: most stable biologics and every eighth monoclonal
    fam_names = np.array([FAMILIES[i].name for i in fam_idx_a])
    pos_in_fam = np.concatenate([np.arange(c) for c in counts])
    no_expiry = ((fam_names == "biologic") & (pos_in_fam % 5 != 0)) | (
        (fam_names == "monoclonal") & (pos_in_fam % 8 == 3)
    )
    prio_a = np.array(prio, dtype=np.int64)
    service = np.select(
        [prio_a == 1, prio_a == 2], [rng.uniform(0.97, 0.99, n), rng.uniform(0.94, 0.97, n)],
        rng.uniform(0.90, 0.94, n),
    )
    service = np.round(service, 3)
    holding = np.round(unit_cost * rng.uniform(0.002, 0.005, n), 4)
    penalty = np.round(unit_cost * rng.uniform(3.0, 8.0, n) * np.where(prio_a == 1, 2.0, 1.0), 2)
    frame = pl.DataFrame(
        {
            "product_id": ids,
            "name": names,
            "family": fam_names.tolist(),
            "unit": [FAMILIES[i].unit for i in fam_idx_a],
            "shelf_life_weeks": pl.Series(shelf, dtype=pl.Int64).scatter(np.flatnonzero(no_expiry), None),
            "unit_cost": unit_cost,
            "holding_cost_per_week": holding,
            "backlog_penalty": penalty,
            "priority": prio_a,
            "service_level": service,
            "shelf_life_from": ["manufacture"] * n,  # biologics and vaccines: expiry from manufacture
        },
        schema=schema.PRODUCTS.schema,
    )
    return Catalog(
        products=frame,
        family_idx=fam_idx_a,
        pattern=pattern_a,
        level=level,
        occurrence=occurrence,
        cv=cv,
        trend=trend,
        lines=np.array([FAMILIES[i].lines for i in fam_idx_a]) * rng.uniform(0.8, 1.2, n),
        lead_days=np.array([FAMILIES[i].lead_days for i in fam_idx_a]) * rng.uniform(0.8, 1.2, n),
        launch=np.array(launch),
        phase_out=np.array(phase),
    )
