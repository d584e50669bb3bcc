"""The digital twin: process learning from batch records and the Monte Carlo replay of a stored plan.

What it is: pure functions on polars frames and numpy arrays. ``process`` learns effective yield, QC failure
rate and release weeks from batch records; ``replay`` replays a plan week by week over sample paths of
demand (``demand``) and supply (``supply``: batch failures, release delays) on a compact index of the plan
(``index``), simulated in ``sim``, and returns the twin's tables (summary, risk, stock fan); ``config``
holds its settings.

May import: ``data_contracts``, ``optimization`` (the planning :class:`~optimization.Network`),
``forecasting``, polars, numpy, pydantic.
Must not import: ``warehouse``, ``report``, ``flows``, ``cli`` (no I/O here: the flows read and store the
twin's tables, see :mod:`flows.stages_twin`).

The public names below are imported lazily (as :mod:`forecasting`'s), so that the run's parameters
(``twin.config``, ``twin.process``) do not import the replay and, with it, the planning model.
"""

from __future__ import annotations

from data_contracts.lazy import lazy_names

_PUBLIC = {
    "PlanTables": "twin.replay",
    "ProcessConfig": "twin.process",
    "TwinConfig": "twin.config",
    "TwinInputs": "twin.replay",
    "TwinResult": "twin.replay",
    "apply_process_estimates": "twin.process",
    "compare_twins": "twin.replay",
    "estimate_process": "twin.process",
    "replay_plan": "twin.replay",
}

__all__ = sorted(_PUBLIC)

__getattr__, __dir__ = lazy_names(globals(), _PUBLIC)
