"""The plan report's HTML sections, from :class:`report.data.ReportData` to strings.

Every filterable element carries ``class="f"`` and ``data-family`` / ``data-site`` / ``data-product``
attributes (space-separated when several); the inline script hides those that do not match the filters.
"""

from __future__ import annotations

from datetime import date
from html import escape

import polars as pl

from report.compare import Comparison, format_delta
from report.data import ReportData
from report.svg import Band, Bar, Line, gantt, heatmap, series_chart

__all__ = [
    "capacity_section",
    "comparison_section",
    "expiry_section",
    "filters",
    "forecast_section",
    "kpi_section",
    "shortage_section",
    "stock_section",
    "warning_section",
]

#: KPIs shown as cards, in order: name → (label, +1 if higher is better, -1 if lower is better)
KPI_CARDS: dict[str, tuple[str, int]] = {
    "fill_rate_units": ("Fill rate, on time (units)", 1),
    "fill_rate_served_units": ("Fill rate, served by the end (units)", 1),
    "fill_rate_weeks": ("Fill rate (series-weeks)", 1),
    "plan_cost": ("Plan cost (money)", -1),
    "cost_production": ("Production cost", -1),
    "cost_transport": ("Transport cost", -1),
    "cost_holding": ("Holding cost", -1),
    "cost_expiry": ("Expiry write-off", -1),
    "service_penalties": ("Service penalties (not cash)", -1),
    "cost_backlog": ("Backlog penalty", -1),
    "cost_lost_sales": ("Lost-sales penalty", -1),
    "cost_safety_stock": ("Safety-stock shortfall penalty", -1),
    "cost_end_stock_shortfall": ("End-stock shortfall penalty", -1),
    "cost_total": ("Objective (plan cost + penalties)", -1),
    "backlog_units_end": ("Backlog at horizon end", -1),
    "lost_units": ("Lost units", -1),
    "expired_units": ("Expired units", -1),
    "stock_value_end": ("Stock value at end", 0),
    "weeks_of_cover": ("Weeks of cover at end", 0),
    "end_position_units": ("Stock + pipeline at end (units)", 0),
    "end_stock_target_units": ("End-stock target (units)", 0),
    "utilisation_avg": ("Utilisation, average", 0),
    "utilisation_last_4_weeks": ("Utilisation, last 4 weeks", 0),
    "utilisation_max": ("Utilisation, peak", 0),
    "weeks_at_capacity": ("Resource-weeks at capacity", 0),
}
_EPS = 1e-9


def _attrs(family: str | None = None, site: str | None = None, product: str | None = None,
           cls: str = "") -> str:
    out = f' class="f{" " + cls if cls else ""}"'
    parts = [f'data-{k}="{escape(v)}"' for k, v in (("family", family), ("site", site), ("product", product)) if v]
    return out + (" " + " ".join(parts) if parts else "")


def _value(v: float | None, unit: str | None) -> str:
    if v is None:
        return "—"
    if unit == "share":
        return f"{v:.1%}"
    if unit == "currency":
        return f"{v / 1e6:,.2f} M" if abs(v) >= 1e6 else f"{v:,.0f}"
    if unit == "weeks":
        return f"{v:.1f} wk"
    return f"{v:,.0f}"


def _change(v: float | None, prev: float | None, unit: str | None, better: int) -> str:
    if v is None or prev is None:
        return '<span class="flat">no previous run</span>'
    diff = v - prev
    if abs(diff) <= _EPS * max(1.0, abs(prev)):
        return '<span class="flat">unchanged</span>'
    cls = "flat" if better == 0 else ("good" if diff * better > 0 else "bad")
    arrow = "▲" if diff > 0 else "▼"
    text = f"{diff * 100:+.1f} pts" if unit == "share" else (
        f"{diff / abs(prev):+.1%}" if abs(prev) > _EPS else _value(diff, unit))
    return f'<span class="{cls}">{arrow} {text}</span>'


def filters(data: ReportData) -> str:
    """The sticky filter bar (family, site, product) with its counter."""
    fams = sorted(set(data.products["family"].to_list()))
    opt_f = "".join(f'<option value="{escape(f)}">{escape(f)}</option>' for f in fams)
    opt_s = "".join(f'<option value="{escape(s)}">{escape(s)} — {escape(n)}</option>'
                    for s, n, _ in data.sites.iter_rows())
    opt_p = "".join(f'<option value="{escape(p)}" data-family="{escape(f)}">{escape(p)} — {escape(n)}</option>'
                    for p, n, f in data.products.iter_rows())
    return (
        '<nav class="filters">'
        f'<label>Family<select id="filter-family"><option value="">all</option>{opt_f}</select></label>'
        f'<label>Site<select id="filter-site"><option value="">all</option>{opt_s}</select></label>'
        f'<label>Product<select id="filter-product"><option value="">all</option>{opt_p}</select></label>'
        '<button id="filter-reset" type="button">Reset</button><span id="shown"></span></nav>'
    )


def kpi_section(data: ReportData) -> str:
    """KPI cards with the change since the previous run."""
    rows = {r["kpi"]: r for r in data.kpis.iter_rows(named=True)}
    cards = []
    for kpi, (label, better) in KPI_CARDS.items():
        if kpi in rows:
            r = rows[kpi]
            change = (_change(r["value"], r["previous"], r["unit"], better) if data.comparable
                      else '<span class="flat">not comparable</span>')
            cards.append(f'<div class="card"><div class="k">{escape(label)}</div>'
                         f'<div class="v">{_value(r["value"], r["unit"])}</div>'
                         f'<div class="d">{change}</div></div>')
    since = (f"change since run <code>{escape(data.previous_run_id)}</code>" if data.previous_run_id
             else "no earlier run to compare with")
    if data.previous_run_id and not data.comparable:
        since = (f"run <code>{escape(data.previous_run_id)}</code> planned another horizon or demand source: "
                 "changes are not comparable")
    return (f'<section id="kpis"><h2>Key figures</h2><p class="note">{since}.</p>'
            f'<div class="cards">{"".join(cards)}</div></section>')


def _series_lists(frame: pl.DataFrame, weeks: list[date], keys: list[str], values: list[str]) -> pl.DataFrame:
    """One row per series with each value column as a list aligned on ``weeks`` (null where absent)."""
    axis = pl.DataFrame({"week": weeks}, schema={"week": pl.Date})
    return (
        frame.select(keys).unique().join(axis, how="cross")
        .join(frame.select(*keys, "week", *values), on=[*keys, "week"], how="left", validate="1:1")
        .sort([*keys, "week"])
        .group_by(keys, maintain_order=True).agg(values)
    )


def forecast_section(data: ReportData) -> str:
    """Forecast against history with the 60% and 90% quantile bands, per product × DC."""
    if data.forecast.is_empty():
        return '<section id="forecast"><h2>Forecast</h2><p class="note">No forecast in this run.</p></section>'
    weeks = sorted(set(data.history["week"].to_list()) | set(data.forecast["week"].to_list()))
    joined = data.history.rename({"quantity": "actual"}).join(
        data.forecast.drop("model"), on=["product_id", "site_id", "week"], how="full", coalesce=True,
        validate="1:1")
    series = _series_lists(joined, weeks, ["product_id", "site_id"], ["actual", "mean", "q05", "q20", "q80", "q95"])
    models = dict(((p, s), m) for p, s, m in data.forecast.select("product_id", "site_id", "model").unique()
                  .iter_rows())
    info = {p: (n, f) for p, n, f in data.products.iter_rows()}
    start = min(data.forecast["week"].to_list())
    figs = []
    for r in series.filter(pl.col("mean").list.drop_nulls().list.len() > 0).iter_rows(named=True):
        p, s = r["product_id"], r["site_id"]
        name, fam = info.get(p, (p, None))
        svg = series_chart(
            weeks,
            [Line(r["actual"], "hist", "demand history"), Line(r["mean"], "mean", "forecast mean")],
            [Band(r["q05"], r["q95"], "band90", "q05–q95"), Band(r["q20"], r["q80"], "band60", "q20–q80")],
            marker=start, title=f"{p} at {s}: history and forecast",
        )
        figs.append(f'<figure{_attrs(fam, s, p, "chart")} data-kind="forecast"><figcaption title="{escape(name)}">'
                    f'{escape(p)} @ {escape(s)} <span>{escape(models.get((p, s), ""))}</span></figcaption>'
                    f"{svg}</figure>")
    legend = ('<div class="legend"><i style="background:#4b5563"></i>history<i style="background:#1f6feb"></i>'
              'forecast mean<i style="background:#a9c6f5;height:8px"></i>q05–q95 / q20–q80</div>')
    booked = ""
    if data.booked:
        b = data.booked
        booked = (f" Booked orders consume the forecast: the mean shown is the larger of the two; "
                  f"{b['units']:,.0f} units booked, {b['added']:,.0f} units above {b.get('above', 'the forecast')} "
                  f"added in {b['weeks']:,} product × DC × week(s) (<code>plan_kpis.booked_units_added</code>).")
    return (f'<section id="forecast"><h2>Forecast versus history</h2><p class="note">Last {len(weeks)} weeks: '
            f"demand history, then the forecast mean with its quantile bands, per product × DC.{booked}</p>"
            f"{legend}"
            f'<div class="grid">{"".join(figs)}</div></section>')


def stock_section(data: ReportData) -> str:
    """Projected closing stock against the safety-stock target (and backlog), per product × site."""
    weeks = sorted(set(data.inventory["week"].to_list()))
    inventory = data.inventory.join(data.stock_fan, on=["product_id", "site_id", "week"], how="left",
                                    validate="1:1")
    fan_cols = ["p05", "p25", "p50", "p75", "p95"]
    series = _series_lists(inventory, weeks, ["product_id", "site_id"],
                           ["closing", "safety_stock", "backlog", *fan_cols])
    series = series.filter(
        (pl.col("closing").list.max() > _EPS) | (pl.col("safety_stock").list.max() > _EPS)
        | (pl.col("backlog").list.max() > _EPS))
    info = {p: (n, f) for p, n, f in data.products.iter_rows()}
    figs = []
    for r in series.iter_rows(named=True):
        p, s = r["product_id"], r["site_id"]
        name, fam = info.get(p, (p, None))
        lines = [Line(r["safety_stock"], "safety", "safety stock"), Line(r["closing"], "stock", "closing stock")]
        if any((v or 0) > _EPS for v in r["backlog"]):
            lines.append(Line(r["backlog"], "backlog", "backlog"))
        bands = []
        if any(v is not None for v in r["p50"]):  # a twin replay: the fan of simulated stock
            bands = [Band(r["p05"], r["p95"], "fan-outer", "twin P5–P95"),
                     Band(r["p25"], r["p75"], "fan-inner", "twin P25–P75")]
            lines.insert(0, Line(r["p50"], "fan-median", "twin median"))
        svg = series_chart(weeks, lines, bands, title=f"{p} at {s}: projected stock")
        figs.append(f'<figure{_attrs(fam, s, p, "chart")} data-kind="stock"><figcaption title="{escape(name)}">'
                    f"{escape(p)} @ {escape(s)}</figcaption>{svg}</figure>")
    legend = ('<div class="legend"><i style="background:#1a7f37"></i>closing stock<i style="background:#d97706">'
              '</i>safety stock<i style="background:#c0312b"></i>backlog')
    if not data.stock_fan.is_empty():
        legend += ('<i style="background:#7c3aed"></i>twin median<i style="background:#ddd6fe"></i>'
                   'twin P5–P95 / P25–P75')
    return (f'<section id="stock"><h2>Projected stock against safety stock</h2>{legend}</div>'
            f'<div class="grid">{"".join(figs)}</div></section>')


def twin_section(data: ReportData) -> str:
    """The plan's risk from its latest twin replay (and its comparison's), figure by figure."""
    if data.twin.is_empty():
        return ""
    runs = data.twin["run_id"].unique(maintain_order=True).to_list()
    head = "".join(f"<th>{escape(r)}: plan</th><th>mean</th><th>P5</th><th>P95</th>" for r in runs)
    rows = []
    for metric in data.twin["metric"].unique(maintain_order=True).to_list():
        cells = []
        for r in runs:
            m = data.twin.filter((pl.col("run_id") == r) & (pl.col("metric") == metric))
            if m.is_empty():
                cells.append("<td></td>" * 4)
                continue
            row = m.row(0, named=True)
            cells.append("".join(f'<td class="n">{_value(row[k], row["unit"])}</td>'
                                 for k in ("plan_value", "mean", "p05", "p95")))
        rows.append(f"<tr><td>{escape(metric)}</td>{''.join(cells)}</tr>")
    paths = data.twin["paths"].max()
    return (f'<section id="twin"><h2>Risk: the plan replayed by the digital twin</h2>'
            f"<p>{paths} sample paths of demand, QC failures, yields and release delays; the plan's own value "
            f"beside the distribution over the paths. The stock charts below show the simulated fan.</p>"
            f'<div class="scroll"><table><thead><tr><th>figure</th>{head}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table></div></section>")


def capacity_section(data: ReportData) -> str:
    """Utilisation heatmap by resource × week, one per plant; bottleneck weeks carry a dot."""
    cap = data.capacity
    weeks = sorted(set(cap["week"].to_list()))
    figs = []
    for site in sorted(set(cap["site_id"].to_list())):
        rows = cap.filter(pl.col("site_id") == site)
        cells = {}
        for r in rows.iter_rows(named=True):
            hot = (r["shadow_price"] or 0) > _EPS or (r["utilisation"] or 0) >= 1 - 1e-6
            tip = (f"{r['resource_id']} {r['week']:%G-W%V}: {r['hours_used']:,.0f} of {r['hours_available']:,.0f} h"
                   + (f" ({r['utilisation']:.0%})" if r["utilisation"] is not None else "")
                   + (f", an extra hour saves {r['shadow_price']:,.0f}" if hot and r["shadow_price"] else ""))
            cells[(r["resource_id"], r["week"])] = (r["utilisation"], hot, tip)
        resources = sorted(set(rows["resource_id"].to_list()))
        svg = heatmap(resources, weeks, cells, title=f"capacity utilisation at {site}")
        figs.append(f'<figure{_attrs(site=site, cls="chart")} data-kind="capacity"><figcaption>{escape(site)}</figcaption>'
                    f"{svg}</figure>")
    return ('<section id="capacity"><h2>Capacity by resource and week</h2><p class="note">Colour: hours used '
            "over hours available (white 0% → red 100%); ● bottleneck: the resource is full and one more hour "
            f'would lower the plan\'s cost.</p><div class="grid">{"".join(figs)}</div></section>')


def campaign_section(data: ReportData) -> str:
    """A Gantt chart per plant of its campaign resources: which product each runs, week by week, and where
    a changeover starts a campaign. Empty without campaign resources."""
    camp = data.campaigns
    if camp is None or camp.height == 0:
        return ""
    weeks = sorted(set(data.capacity["week"].to_list()))
    figs = []
    for site in sorted(set(camp["site_id"].to_list())):
        rows = camp.filter(pl.col("site_id") == site)
        bars = [
            Bar(r["resource_id"], r["first_week"], r["last_week"], r["product_id"],
                f"{r['resource_id']}: {r['product_id']} {r['first_week']:%G-W%V}–{r['last_week']:%G-W%V}, "
                f"{r['weeks']} weeks, {r['quantity']:,.0f} units"
                + (f" in {r['batches']:,.0f} batches" if r["batches"] is not None else "")
                + (f"; changeover from {r['from_product_id'] or 'idle'}: {r['changeover_hours']:,.0f} h, "
                   f"{r['changeover_cost']:,.0f}" if r["changeover_hours"] or r["changeover_cost"] else ""),
                bool(r["changeover_hours"] or r["changeover_cost"]))
            for r in rows.iter_rows(named=True)
        ]
        svg = gantt(sorted(set(rows["resource_id"].to_list())), weeks, bars, title=f"campaigns at {site}")
        figs.append(f'<figure{_attrs(site=site, cls="chart")} data-kind="campaigns"><figcaption>{escape(site)}'
                    f"</figcaption>{svg}</figure>")
    return ('<section id="campaigns"><h2>Campaigns</h2><p class="note">One row per campaign-run resource, one '
            "bar per campaign (the product it is set up for); a hatched first week is a changeover (hours lost "
            f'and its cost in the tooltip).</p><div class="grid">{"".join(figs)}</div></section>')


def warning_section(data: ReportData) -> str:
    """What the run noticed that rejects no row (``run_warnings``): demand no plant reaches, number columns
    that look thousands-grouped, data far behind the run date. Nothing when there is none."""
    if data.warnings is None or data.warnings.is_empty():
        return ""
    rows = "".join(
        f'<tr><td>{escape(r["entity"])}</td><td><span class="reason">{escape(r["rule"])}</span></td>'
        f'<td>{escape(r["key"] or "")}</td><td>{escape(r["reason"])}</td></tr>'
        for r in data.warnings.iter_rows(named=True)
    )
    return (f'<section id="warnings"><h2>Warnings ({data.warnings.height})</h2><p class="note">What the run '
            "noticed in its inputs that rejects no row; the table <code>run_warnings</code> holds them.</p>"
            '<div class="scroll"><table><thead><tr><th>Entity</th><th>Rule</th><th>Key</th><th>Why</th></tr>'
            f"</thead><tbody>{rows}</tbody></table></div></section>")


def shortage_section(data: ReportData) -> str:
    """Every short product × DC × week, largest first, with its reason and what would recover it."""
    value = "short_value" in data.shortages.columns
    rows = "".join(
        f'<tr{_attrs(r["family"], r["site_id"], r["product_id"])}><td>{escape(r["product_id"])}</td>'
        f'<td>{escape(r["site_id"])}</td><td>{r["week"]:%G-W%V}</td><td class="n">{r["short_quantity"]:,.0f}</td>'
        + (f'<td class="n">{r["short_value"]:,.0f}</td>' if value else "")
        + f'<td><span class="reason">{escape(r["reason"])}</span></td><td>{escape(r["detail"] or "")}</td></tr>'
        for r in data.shortages.iter_rows(named=True)
    )
    late = "late_units" in data.shortages.columns
    total = ((f'<p class="note">{data.shortages["late_units"].sum():,.0f} units not served in the week wanted'
              if late else f'<p class="note">{data.shortages["short_quantity"].sum():,.0f} unit-weeks short')
             + "; each row is a week's backlog and lost units, largest first.</p>")
    head = '<th class="n">Short</th>' + ('<th class="n">Value</th>' if value else "")
    body = (f'{total}<div class="scroll"><table><thead><tr><th>Product</th><th>DC</th><th>Week</th>{head}'
            f"<th>Reason</th><th>Recovery options</th></tr></thead><tbody>{rows}</tbody></table></div>"
            if rows else '<p class="note">No demand goes short.</p>')
    return f'<section id="shortages"><h2>Shortages ({data.shortages.height})</h2>{body}</section>'


def expiry_section(data: ReportData) -> str:
    """Stock written off because it reaches its shelf life."""
    rows = "".join(
        f'<tr{_attrs(r["family"], r["site_id"], r["product_id"])}><td>{escape(r["product_id"])}</td>'
        f'<td>{escape(r["site_id"])}</td><td>{r["week"]:%G-W%V}</td><td class="n">{r["quantity"]:,.0f}</td>'
        f'<td class="n">{r["cost"]:,.0f}</td></tr>'
        for r in data.expiry.iter_rows(named=True)
    )
    body = (f'<table><thead><tr><th>Product</th><th>Site</th><th>Week</th><th class="n">Units</th>'
            f'<th class="n">Cost</th></tr></thead><tbody>{rows}</tbody></table>'
            if rows else '<p class="note">No expiry write-offs.</p>')
    return f'<section id="expiry"><h2>Expiry write-offs ({data.expiry.height})</h2>{body}</section>'


def _runs_as(campaign: bool | None) -> str:
    return "campaigns" if campaign else "freely"


def comparison_section(c: Comparison, families: dict[str, str] | None = None, top: int = 20) -> str:
    """A scenario (B) against its base (A): KPIs, shortages that appear or vanish, capacity, stock.

    ``families`` (product → family) lets the family filter act on the comparison's rows too.
    """
    fam = families or {}
    def num(v: float | None, unit: str | None = None) -> str:
        return _value(v, unit)

    kpis = "".join(
        f'<tr><td>{escape(r["kpi"])}</td><td class="n">{num(r["a"], r["unit"])}</td>'
        f'<td class="n">{num(r["b"], r["unit"])}</td>'
        f'<td class="n">{format_delta(r["diff"], r["unit"])}</td></tr>'
        for r in c.kpis.filter(~pl.col("kpi").str.starts_with("utilisation_")).iter_rows(named=True))

    def short_rows(frame: pl.DataFrame, col: str, weeks: str, first: str) -> str:
        return "".join(
            f'<tr{_attrs(fam.get(r["product_id"]), r["site_id"], r["product_id"])}><td>{escape(r["product_id"])}</td>'
            f'<td>{escape(r["site_id"])}</td><td class="n">{r[col]:,.0f}</td><td class="n">{r[weeks]}</td>'
            f'<td>{r[first]}</td></tr>'
            for r in frame.head(top).iter_rows(named=True)) or '<tr><td colspan="5">none</td></tr>'

    changed = c.shortages_changed if c.shortages_changed is not None else pl.DataFrame()
    changed_rows = "".join(
        f'<tr{_attrs(fam.get(r["product_id"]), r["site_id"], r["product_id"])}><td>{escape(r["product_id"])}</td>'
        f'<td>{escape(r["site_id"])}</td><td class="n">{r["short_a"]:,.0f}</td><td class="n">{r["short_b"]:,.0f}'
        f'</td><td class="n">{r["diff"]:+,.0f}</td><td>{r["first_a"]} → {r["first_b"]}</td></tr>'
        for r in changed.head(top).iter_rows(named=True)) or '<tr><td colspan="6">none</td></tr>'

    cap = "".join(
        f'<tr{_attrs(site=r["site_id"])}><td>{escape(r["resource_id"])}</td><td class="n">{num(r["util_a"], "share")}'
        f'</td><td class="n">{num(r["util_b"], "share")}</td><td class="n">{r["binding_a"] or 0} → '
        f'{r["binding_b"] or 0}</td></tr>' for r in c.capacity.iter_rows(named=True))
    stock = "".join(
        f'<tr{_attrs(fam.get(r["product_id"]), r["site_id"], r["product_id"])}><td>{escape(r["product_id"])}</td>'
        f'<td>{escape(r["site_id"])}</td><td class="n">{num(r["stock_a"])}</td><td class="n">{num(r["stock_b"])}</td>'
        f'<td class="n">{r["diff"]:+,.0f}</td></tr>'
        for r in c.stock.filter(pl.col("diff").abs() > 1e-6).head(top).iter_rows(named=True))
    head = ('<tr><th>Product</th><th>DC</th><th class="n">Units late</th><th class="n">Weeks</th>'
            '<th>From</th></tr>')
    suites = "" if c.campaigns is None or not c.campaigns.height else (
        '<h3>Campaigns</h3><table><thead><tr><th>Resource</th><th>Runs A → B</th><th class="n">Campaigns</th>'
        '<th class="n">Changeovers</th><th class="n">Changeover hours</th><th class="n">Utilisation</th></tr>'
        "</thead><tbody>" + "".join(
            f'<tr><td>{escape(r["resource_id"])}</td><td>{_runs_as(r["campaign_a"])} → {_runs_as(r["campaign_b"])}'
            f'</td><td class="n">{r["campaigns_a"]} → {r["campaigns_b"]}</td><td class="n">{r["changeovers_a"]} → '
            f'{r["changeovers_b"]}</td><td class="n">{num(r["changeover_hours_a"])} → '
            f'{num(r["changeover_hours_b"])}</td><td class="n">{num(r["util_a"], "share")} → '
            f'{num(r["util_b"], "share")}</td></tr>' for r in c.campaigns.iter_rows(named=True))
        + "</tbody></table>")
    return (
        f'<section id="comparison"><h2>Comparison: B = {escape(c.label_b)} against A = {escape(c.label_a)}</h2>'
        f'<table><thead><tr><th>KPI</th><th class="n">A</th><th class="n">B</th><th class="n">B − A</th></tr>'
        f"</thead><tbody>{kpis}</tbody></table>"
        f"<h3>Shortages that appear in B ({c.shortages_new.height})</h3><table><thead>{head}</thead><tbody>"
        f"{short_rows(c.shortages_new, 'short_b', 'weeks_b', 'first_b')}</tbody></table>"
        f"<h3>Shortages that vanish in B ({c.shortages_gone.height})</h3><table><thead>{head}</thead><tbody>"
        f"{short_rows(c.shortages_gone, 'short_a', 'weeks_a', 'first_a')}</tbody></table>"
        f"<h3>Shortages that grow or shrink in B ({changed.height})</h3><table><thead><tr><th>Product</th>"
        '<th>DC</th><th class="n">Units late A</th><th class="n">Units late B</th><th class="n">B − A</th>'
        f"<th>First week short A → B</th></tr></thead><tbody>{changed_rows}</tbody></table>"
        '<h3>Capacity</h3><table><thead><tr><th>Resource</th><th class="n">Utilisation A</th><th class="n">'
        f'Utilisation B</th><th class="n">Weeks at capacity</th></tr></thead><tbody>{cap}</tbody></table>{suites}'
        f'<h3>Largest stock changes (average closing stock)</h3><table><thead><tr><th>Product</th><th>Site</th>'
        f'<th class="n">A</th><th class="n">B</th><th class="n">B − A</th></tr></thead><tbody>{stock}</tbody>'
        "</table></section>"
    )
