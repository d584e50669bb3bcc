"""The ``plantwin`` command line: parses and checks arguments, then calls the flows or the stages.

What it is: ``main`` holds the typer app and the planning commands (demo, generate-demo, run, replan,
forecast), ``inputs`` the input checks (validate), ``outputs`` the report, comparison, dictionary and
scenario commands, ``twin`` the twin replay. Errors a user can fix end with one paragraph and exit code 2.

May import: every other package (it is the top of the graph, beside ``flows``).
Must not be imported by any other package.
"""

import flows  # noqa: F401 — sets the telemetry-off environment before Prefect or GX load
