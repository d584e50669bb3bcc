"""The volume guard: stop a run whose input shrank beyond a threshold since the previous accepted load.

An export cut short (a query that timed out, a filter left on, half a file) passes every row-level
contract: each row it has is valid. Its symptom is volume. Each guarded entity's row count, as the run
reads it (orders: every version up to this load, as the contracts see them), is compared with the same
count for the loads of the latest successful planning or refresh run; a drop beyond the entity's limit
stops the run before anything is validated, planned or published.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from data_contracts import schema
from warehouse.sources import SourceError

if TYPE_CHECKING:
    from warehouse.db import Warehouse

__all__ = ["VolumeDrop", "check_volume", "previous_accepted_loads", "volume_drops"]

#: Runs whose loads count as accepted: the ones that ingest.
_INGESTING_KINDS = ("weekly_planning", "nightly_refresh")


class VolumeDrop(SourceError):
    """An entity has far fewer rows than in the previous accepted load."""


def previous_accepted_loads(wh: Warehouse) -> tuple[str | None, dict[str, str]]:
    """The latest successful ingesting run and its entity → load id (None, {} when there is none)."""
    row = wh.con.execute(
        f"SELECT run_id, input_load_ids FROM {schema.RUNS.name} WHERE status = 'success' AND kind IN "
        f"({', '.join('?' for _ in _INGESTING_KINDS)}) ORDER BY finished_at DESC NULLS LAST, started_at DESC "
        "LIMIT 1",
        list(_INGESTING_KINDS),
    ).fetchone()
    if row is None:
        return None, {}
    return row[0], json.loads(row[1] or "{}")


def volume_drops(
    current: Mapping[str, int], previous: Mapping[str, int], limits: Mapping[str, tuple[float, str]]
) -> list[str]:
    """One message per entity whose count fell by more than its limit (a share of the previous count).

    Args:
        current: entity → rows now.
        previous: entity → rows in the previous accepted load.
        limits: entity → (largest allowed drop as a share, the setting's name for the message).
    """
    out = []
    for entity, (limit, setting) in limits.items():
        if entity not in previous or previous[entity] == 0:
            continue  # nothing to compare with: a first load, or an entity that was empty
        now, before = current.get(entity, 0), previous[entity]
        drop = 1 - now / before
        if drop > limit:
            out.append(
                f"{entity}: {now} rows against {before} in the previous accepted load ({drop:.0%} fewer); "
                f"the limit is {setting} = {limit:g}"
            )
    return out


def check_volume(
    wh: Warehouse, load_ids: Mapping[str, str], limits: Mapping[str, tuple[float, str]],
    snapshots: frozenset[str] = frozenset(),
) -> dict[str, tuple[int, int]]:
    """Compare this run's loads with the previous accepted ones; entity → (rows now, rows before).

    ``snapshots``: event entities the source delivers as full extracts (``orders: {mode: snapshot}``),
    counted as the rows of their load alone, as the contracts read them.

    Raises:
        VolumeDrop: an entity dropped beyond its limit; names the entity, both counts and the setting.
    """
    accepted_run, accepted = previous_accepted_loads(wh)
    # An entity absent now is the contracts' matter (a missing file is named as such), not a volume drop.
    guarded = [e for e in limits if e in accepted and e in load_ids]
    # counted in the warehouse: reading 8.5 million order lines twice into polars to count them cost 4 GB
    current = {e: wh.raw_count(e, load_ids[e], e in snapshots) for e in guarded}
    previous = {e: wh.raw_count(e, accepted[e], e in snapshots) for e in guarded}
    drops = volume_drops(current, previous, limits)
    if drops:
        raise VolumeDrop(
            f"the inputs shrank against run {accepted_run}: {'; '.join(drops)} (rule: volume_guard). Nothing "
            "was validated, planned or published. If the drop is real, raise the setting for this run "
            "(e.g. in --params: volume_guard: {max_drop_orders: 0.5})."
        )
    return {e: (current[e], previous[e]) for e in guarded}
