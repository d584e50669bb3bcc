"""Inputs complete before they are read: settle interval, _READY / _SHA256SUMS, re-check after the read,
and the volume guard against the previous accepted load. Real files, a real warehouse; a writer thread
plays the exporter still writing."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import date
from pathlib import Path

import pytest

import warehouse.arrival as arrival
from data_contracts import schema
from flows.settings import RunParameters, VolumeGuard
from warehouse.arrival import CHECKSUMS, READY, InputChanged, read_complete_folder
from warehouse.db import open_warehouse
from warehouse.sources import SourceUnavailable, read_folder
from warehouse.volume import VolumeDrop, check_volume, volume_drops

ORDERS, INVENTORY, PRODUCTS = schema.ORDERS.name, schema.INVENTORY.name, schema.PRODUCTS.name


def _products(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "products.csv"
    path.write_text("product_id,name\n" + "".join(f"P{i},Product {i}\n" for i in range(n)))
    return path


def _age(path: Path, seconds: float = 3600) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_files_older_than_the_interval_are_read_without_waiting(tmp_path):
    _age(_products(tmp_path, 3))
    states = arrival.wait_until_stable(tmp_path, [tmp_path / "products.csv"], settle_seconds=30, timeout_seconds=1)
    assert list(states) == [tmp_path / "products.csv"]  # returned at once: a 30 s wait would time the test out
    assert [f.row_count for f in read_complete_folder(tmp_path, settle_seconds=30)] == [3]


def test_a_file_still_being_written_is_not_read(tmp_path):
    path = _products(tmp_path, 3)
    stop = threading.Event()

    def exporter() -> None:  # appends a row every 20 ms, like an export still running
        i = 100
        while not stop.is_set():
            with path.open("a") as f:
                f.write(f"P{i},late\n")
            i += 1
            time.sleep(0.02)

    writer = threading.Thread(target=exporter)
    writer.start()
    try:
        with pytest.raises(SourceUnavailable, match=r"products.csv still being written after 0.5 s .*"
                           r"\(rule: input_complete\).*_READY or _SHA256SUMS"):
            read_complete_folder(tmp_path, settle_seconds=0.1, timeout_seconds=0.5)
    finally:
        stop.set()
        writer.join()


def test_a_fresh_folder_is_read_once_it_settled(tmp_path):
    _products(tmp_path, 4)  # just written: the settle interval passes, then the read
    assert [f.row_count for f in read_complete_folder(tmp_path, settle_seconds=0.05)] == [4]


def test_a_file_changed_during_the_read_stops_the_run(tmp_path, monkeypatch):
    path = _products(tmp_path, 3)
    real_read = arrival.read_source_file

    def read_then_exporter_rewrites(p, entity):  # the real read, then the exporter rewrites the file
        got = real_read(p, entity)
        _products(tmp_path, 30)
        return got

    monkeypatch.setattr(arrival, "read_source_file", read_then_exporter_rewrites)
    with pytest.raises(InputChanged, match=r"products.csv: changed while it was read \(size 55 -> \d+ bytes\) "
                       r"\(rule: input_unchanged\); nothing read is used"):
        read_complete_folder(tmp_path, settle_seconds=0)
    assert path.read_text().count("\n") == 31


def test_the_checksum_manifest_proves_the_delivery_complete(tmp_path):
    path = _products(tmp_path, 3)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / CHECKSUMS).write_text(f"{digest}  products.csv\n")
    assert [f.row_count for f in read_complete_folder(tmp_path, settle_seconds=30)] == [3]  # no wait: listed
    _products(tmp_path, 2)  # the file is not the one the manifest lists (yet)
    with pytest.raises(SourceUnavailable, match=r"products.csv: its content differs from its checksum in "
                       r"_SHA256SUMS \(rule: input_complete\)"):
        read_complete_folder(tmp_path, settle_seconds=30)
    (tmp_path / "sites.csv").write_text("site_id\nS1\n")
    (tmp_path / CHECKSUMS).write_text(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  products.csv\n")
    with pytest.raises(SourceUnavailable, match=r"sites.csv: not listed in _SHA256SUMS"):
        read_complete_folder(tmp_path, settle_seconds=30)


def test_a_ready_marker_skips_the_wait_and_the_read_is_still_rechecked(tmp_path):
    _products(tmp_path, 3)
    (tmp_path / READY).write_text("")
    assert [f.row_count for f in read_complete_folder(tmp_path, settle_seconds=30)] == [3]
    assert [f.content_hash for f in read_complete_folder(tmp_path, 30)] == [f.content_hash for f in read_folder(tmp_path)]


# ---------------------------------------------------------------------------------------------- volume guard
def test_volume_drops_name_entity_counts_and_setting():
    limits = VolumeGuard().limits()
    assert volume_drops({ORDERS: 80, INVENTORY: 69, PRODUCTS: 90}, {ORDERS: 100, INVENTORY: 100, PRODUCTS: 100},
                        limits) == ["inventory: 69 rows against 100 in the previous accepted load (31% fewer); "
                                    "the limit is volume_guard.max_drop_inventory = 0.3"]
    assert volume_drops({ORDERS: 79}, {ORDERS: 100}, limits)[0].endswith("volume_guard.max_drop_orders = 0.2")
    assert volume_drops({PRODUCTS: 89}, {PRODUCTS: 100}, limits)[0].startswith("products: 89 rows against 100")
    assert volume_drops({ORDERS: 0}, {}, limits) == []  # a first load has nothing to compare with
    assert volume_drops({ORDERS: 10}, {ORDERS: 100}, VolumeGuard(max_drop_orders=1).limits()) == []


def test_the_guard_compares_with_the_latest_successful_run_only(tmp_path):
    from warehouse.sources import read_source_file

    wh_path = tmp_path / "wh.duckdb"
    limits = VolumeGuard().limits()
    with open_warehouse(wh_path) as wh:
        full = wh.land(read_source_file(_products(tmp_path / "a", 100), PRODUCTS))[0]
        assert check_volume(wh, {PRODUCTS: full}, limits) == {}  # no accepted run yet
        run = wh.start_run(kind="weekly_planning", scenario="base", run_date=date(2026, 5, 4), parameters={},
                           code_version="test")
        wh.update_run(run, input_load_ids={PRODUCTS: full})
        wh.commit_run(run)
        short = wh.land(read_source_file(_products(tmp_path / "b", 85), PRODUCTS))[0]
        with pytest.raises(VolumeDrop, match=rf"shrank against run {run}: products: 85 rows against 100 in the "
                           r"previous accepted load \(15% fewer\); the limit is volume_guard.max_drop_master = "
                           r"0.1 \(rule: volume_guard\)"):
            check_volume(wh, {PRODUCTS: short}, limits)
        failed = wh.start_run(kind="weekly_planning", scenario="base", run_date=date(2026, 5, 4), parameters={},
                              code_version="test")
        wh.update_run(failed, input_load_ids={PRODUCTS: short})
        wh.fail_run(failed, "volume")
        assert check_volume(wh, {PRODUCTS: full}, limits) == {PRODUCTS: (100, 100)}  # the failed run is no baseline
        with pytest.raises(VolumeDrop):
            check_volume(wh, {PRODUCTS: short}, limits)


def test_run_parameters_carry_the_settings():
    params = RunParameters(warehouse=Path("w.duckdb"), input_dir=Path("in"),
                           volume_guard={"max_drop_orders": 0.5})
    assert params.volume_guard.max_drop_orders == 0.5 and params.volume_guard.max_drop_master == 0.1
    assert params.input_settle_seconds == 1.0
    with pytest.raises(ValueError, match="max_drop_ordrs"):
        RunParameters(warehouse=Path("w.duckdb"), input_dir=Path("in"), volume_guard={"max_drop_ordrs": 0.5})
