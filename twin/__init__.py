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
"""

from twin.config import TwinConfig
from twin.process import ProcessConfig, apply_process_estimates, estimate_process
from twin.replay import PlanTables, TwinInputs, TwinResult, compare_twins, replay_plan

__all__ = [
    "PlanTables",
    "ProcessConfig",
    "TwinConfig",
    "TwinInputs",
    "TwinResult",
    "apply_process_estimates",
    "compare_twins",
    "estimate_process",
    "replay_plan",
]
