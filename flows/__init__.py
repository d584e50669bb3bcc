"""Prefect flows: the orchestration layer (flows, their tasks, the stages they wrap, settings, artifacts).

May import: every package below it (``data_contracts``, ``warehouse``, ``forecasting``, ``optimization``,
``twin``, ``report``).
Must not import: ``cli`` (the command line sits on top and calls the flows, never the reverse).

Importing it turns telemetry off (nothing may phone home) and gives Prefect's temporary local server
time to start on a slow machine, unless the environment already says otherwise.
"""

import os

for _name, _value in {
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}.items():
    os.environ.setdefault(_name, _value)
