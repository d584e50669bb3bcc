"""plantwin's I/O layer.

Every DuckDB and source I/O: connect, migrate, load, read, views, publish the snapshot, the data dictionary.

May import: ``data_contracts``, duckdb, polars, psycopg.
Must not import: ``forecasting``, ``optimization``, ``twin``, ``demo``, ``report``, ``flows``, ``cli``.
"""
