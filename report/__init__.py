"""The plan report: a self-contained HTML page per run, its charts, run comparisons and the text summary.

What it is: ``page`` renders and writes ``report-<run_id>.html`` (``sections`` the HTML blocks, ``svg`` the
inline charts, ``templates/`` its CSS and script), ``data`` loads what a report shows from a warehouse
connection, ``compare`` compares two runs or scenarios (also as text for the CLI), ``summary`` is the
run's few-line text summary printed by the CLI and posted as a Prefect artifact.

May import: ``data_contracts``, ``warehouse`` (read-only connections, views and ``warehouse.reads``: report/
writes no SQL), polars, duckdb.
Must not import: ``flows``, ``cli`` (it knows nothing of Prefect or the command line), nor build plans or
forecasts itself (it reads what the run stored).
"""
