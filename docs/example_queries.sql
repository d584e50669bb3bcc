-- Example queries on the published warehouse (duckdb -readonly warehouse.published.duckdb).
-- Each block: a name, the question it answers, the SQL. Tested on a generated demo warehouse
-- (tests/test_views.py) and copied into docs/warehouse.md by warehouse/dictionary.py.

-- name: shortages_next_month
-- question: Which products go short in the next four weeks, and why?
-- units_late counts each unit of demand once (late_units); short_quantity counts a unit again every week it waits
SELECT s.product_id, p.family, s.site_id, min(s.week) AS first_week, count(*) AS weeks_short,
       round(sum(s.late_units)) AS units_late, round(sum(s.short_quantity)) AS unit_weeks_short,
       mode(s.reason) AS main_reason, any_value(s.detail) AS detail
FROM latest_plan_shortages s
JOIN latest_base_run r USING (run_id)
JOIN clean_products p USING (run_id, product_id)
WHERE s.week < r.run_date + INTERVAL 4 WEEK
GROUP BY ALL
ORDER BY units_late DESC;

-- name: forecast_revisions
-- question: How has the forecast for a product changed over the last 8 runs? (the product with the most demand; put yours in `pick`)
WITH pick AS (
    SELECT product_id FROM latest_forecast GROUP BY product_id ORDER BY sum(mean) DESC LIMIT 1
),
last_runs AS (
    SELECT run_id, run_date FROM runs
    WHERE status = 'success' AND scenario = 'base' AND base_run_id IS NULL
      AND run_id IN (SELECT run_id FROM forecast)
    ORDER BY started_at DESC LIMIT 8
),
totals AS (
    SELECT f.product_id, f.week, r.run_date, f.run_id, sum(f.mean) AS forecast_all_dcs
    FROM forecast f JOIN last_runs r USING (run_id) JOIN pick USING (product_id)
    GROUP BY ALL
)
SELECT product_id, week, run_date, run_id, round(forecast_all_dcs) AS forecast_all_dcs,
       round(forecast_all_dcs - lag(forecast_all_dcs) OVER (PARTITION BY product_id, week ORDER BY run_date))
           AS revision
FROM totals
ORDER BY week, run_date;

-- name: capacity_by_plant_week
-- question: What is capacity utilisation by plant and week, and which resources are the bottleneck?
SELECT site_id AS plant, week, round(sum(hours_used)) AS hours_used, round(sum(hours_available)) AS hours_available,
       round(sum(hours_used) / nullif(sum(hours_available), 0), 3) AS utilisation,
       string_agg(resource_id, ', ' ORDER BY resource_id) FILTER (WHERE shadow_price > 1e-9) AS bottlenecks
FROM latest_plan_capacity
GROUP BY ALL
ORDER BY plant, week;

-- name: value_of_an_hour
-- question: Where would one more hour of capacity save the most, and in which weeks?
SELECT resource_id, site_id, count(*) FILTER (WHERE shadow_price > 1e-9) AS binding_weeks,
       round(max(shadow_price)) AS max_value_per_hour, arg_max(week, shadow_price) AS most_valuable_week,
       round(sum(shadow_price)) AS value_of_one_more_hour_every_week
FROM latest_plan_capacity
GROUP BY ALL
ORDER BY value_of_one_more_hour_every_week DESC;

-- name: below_safety_stock
-- question: Where does projected stock fall below safety stock, from when and by how much?
SELECT product_id, site_id, count(*) AS weeks_below, min(week) AS first_week,
       round(max(safety_stock - closing)) AS largest_gap, round(avg(closing / nullif(safety_stock, 0)), 2) AS avg_cover_of_target
FROM latest_plan_inventory
WHERE closing < safety_stock - 1e-6
GROUP BY ALL
ORDER BY weeks_below DESC, largest_gap DESC;

-- name: forecast_accuracy_by_lag
-- question: How accurate were past forecasts, by lag and product family (WAPE, bias, interval coverage)?
SELECT p.family, v.lag, count(*) AS weeks,
       round(sum(v.abs_error) / nullif(sum(v.actual), 0), 3) AS wape,
       round(sum(v.error) / nullif(sum(v.actual), 0), 3) AS bias,
       round(avg(v.within_q10_q90::INTEGER), 3) AS share_within_q10_q90
FROM forecast_vs_actual v
JOIN clean_products p ON p.run_id = v.run_id AND p.product_id = v.product_id
GROUP BY ALL
ORDER BY p.family, v.lag;

-- name: kpi_change
-- question: How did cost and service change since the previous plan?
SELECT kpi, unit, round(previous_value, 4) AS previous, round(value, 4) AS latest, round(change, 4) AS change
FROM latest_kpis
WHERE kpi LIKE 'cost_%' OR kpi LIKE 'fill_rate_%' OR kpi IN ('backlog_units_end', 'expired_units', 'stock_value_end')
ORDER BY kpi;

-- name: scenarios_against_base
-- question: What does each scenario change against its base: cost, backlog, fill rate, shortages that appear or vanish?
SELECT scenario, run_a AS base_run, run_b AS scenario_run,
       round(sum(cost_diff)) AS cost_change, round(sum(backlog_diff)) AS backlog_change,
       round(sum(production_diff)) AS production_change,
       count(DISTINCT (product_id, site_id)) FILTER (WHERE short_b AND NOT short_a) AS series_newly_short,
       count(DISTINCT (product_id, site_id)) FILTER (WHERE short_a AND NOT short_b) AS series_no_longer_short
FROM plan_diff_latest
GROUP BY ALL
ORDER BY scenario;

-- name: run_history
-- question: Which runs were made, by which code, on which inputs, and how did they end?
SELECT run_id, kind, scenario, base_run_id, run_date, status, solver_status, round(objective) AS objective,
       code_version, json_extract_string(parameters, '$.plan.horizon_weeks') AS horizon_weeks,
       len(json_keys(input_load_ids)) AS input_entities,
       date_diff('second', started_at, finished_at) AS seconds, error
FROM runs
ORDER BY started_at DESC;

-- name: expiry_write_offs
-- question: Which stock will expire over the horizon, where, and what does it cost?
SELECT e.product_id, p.family, e.site_id, min(e.week) AS first_week, round(sum(e.quantity)) AS units,
       round(sum(e.cost)) AS write_off_cost
FROM latest_plan_expiry e
JOIN clean_products p USING (run_id, product_id)
GROUP BY ALL
ORDER BY write_off_cost DESC;

-- name: campaigns_behind_a_dc_week
-- question: Which campaign serves a DC's demand in a week, through every level of the bill of materials? (the busiest DC × week; put yours in `asked`)
-- level 0 is the sold product's own supply (plan_pegging), level 1 the component its production consumed, level 2 that component's (plan_pegging_bom); units are the DC's units whose share came from that supply, item_units the supply's own
WITH asked AS (
    SELECT site_id, week FROM latest_plan_pegging WHERE use = 'served'
    GROUP BY ALL ORDER BY sum(quantity) DESC, site_id, week LIMIT 1
    -- or: SELECT 'DC-EU-N' AS site_id, DATE '2026-07-06' AS week
),
supply AS (
    SELECT p.product_id, p.week, p.due_week, 0 AS level, p.product_id AS item_id, p.source, p.source_site,
           p.resource_id, p.start_week, p.release_week, p.quantity AS units, p.quantity AS item_units
    FROM latest_plan_pegging p JOIN asked USING (site_id, week)
    WHERE p.use = 'served'
    UNION ALL
    SELECT b.product_id, b.week, b.due_week, b.level, b.component_id, b.component_source, b.component_source_site,
           b.component_resource_id, b.component_start_week, b.component_release_week, b.quantity,
           b.component_quantity
    FROM latest_plan_pegging_bom b JOIN asked USING (site_id, week)
    WHERE b.use = 'served'
)
SELECT product_id, level, item_id, source, source_site, resource_id, start_week, release_week,
       round(sum(units)) AS units, round(sum(units) FILTER (WHERE due_week < week)) AS units_served_late,
       min(due_week) AS earliest_due_week, round(sum(item_units), 1) AS item_units
FROM supply
GROUP BY ALL
ORDER BY product_id, level, item_id, start_week NULLS FIRST;
