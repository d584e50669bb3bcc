"""The demo network: a seeded, deterministic vaccine and biologics maker, as input files.

What it is: ``network`` assembles the entities (``demo_network``) and writes them as CSV or Parquet
(``write_demo``, ``generate_demo``); ``catalog`` (products, sites, families), ``demand`` (order history by
pattern), ``supply`` (resources, routings, lanes, calendar) and ``stock`` (inventory lots, receipts, batch
records) build its parts; ``levels`` (the bill of materials) and ``suites`` (plant-like bioreactor suites)
make the multi-level demo. The same generator makes the large networks of the benchmarks.

May import: ``data_contracts`` (the schema it writes to), polars, numpy.
Must not import: ``warehouse``, ``forecasting``, ``optimization``, ``twin``, ``report``, ``flows``, ``cli``:
it produces input files, exactly as a customer's exporter would.
"""

from demo.network import DEMO_RUN_DATE, demo_network, demo_special_cases, generate_demo, write_demo

__all__ = ["DEMO_RUN_DATE", "demo_network", "demo_special_cases", "generate_demo", "write_demo"]
