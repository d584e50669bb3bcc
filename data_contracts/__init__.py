"""Input and output contracts of plantwin: the schema module, GX suites built in code, quarantine.

The public names below are imported lazily, so that ``from data_contracts import schema`` (used by every
package) does not pay for importing Great Expectations.

May import: polars, great_expectations, pandas (only at the GX boundary, ``gx_runner``), pydantic.
Must not import: any other plantwin package: it is the bottom of the graph, the one place that names
tables and columns (``schema``).
"""

from __future__ import annotations

from data_contracts.lazy import lazy_names

_PUBLIC = {
    "ContractConfig": "data_contracts.config",
    "ContractError": "data_contracts.config",
    "ContractOutcome": "data_contracts.config",
    "PlanContractError": "data_contracts.config",
    "validate_inputs": "data_contracts.validate",
    "validate_plan": "data_contracts.plan",
    "validation_report": "data_contracts.report",
    "write_data_docs": "data_contracts.report",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(globals(), _PUBLIC)
