"""Read a folder input only when it has arrived whole, and prove it did not change while it was read.

An exporter that writes files into the folder the run reads can be caught half-way: a 652-row inventory
file read when 30 rows had arrived plans a wrong quarter without a warning. Before reading, a folder is
*stable* when one of these holds, in order:

1. a ``_SHA256SUMS`` manifest (``sha256sum`` output: ``<hex>  <file name>`` per line, written last by the
   exporter) lists every entity file and each file's content matches its checksum (checked on the bytes
   actually read);
2. a ``_READY`` marker file exists (written last by the exporter);
3. otherwise every file's size and modification time stay the same across a settle interval (no wait
   when every file is already older than the interval).

After reading, every file is stat-ed again: a file whose size or modification time changed while it was
read stops the run (:class:`InputChanged`), so nothing read half-way is planned or published.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from data_contracts import schema

# InputChanged is defined beside the sources (the landing raises it too) and is this module's as before
from warehouse.sources import InputChanged, SourceFile, SourceUnavailable, entity_files, read_source_file

__all__ = ["CHECKSUMS", "READY", "FileState", "InputChanged", "check_checksums", "check_unchanged",
           "file_states", "read_complete_folder", "wait_until_stable"]

#: Defaults of a run (``RunParameters.input_settle_seconds`` and ``input_settle_timeout_seconds``).
SETTLE_SECONDS = 1.0
SETTLE_TIMEOUT_SECONDS = 120.0

READY = schema.READY_MARKER
CHECKSUMS = schema.CHECKSUMS_MANIFEST


@dataclass(frozen=True)
class FileState:
    """What tells a file changed: its size and modification time (nanoseconds)."""

    size: int
    mtime_ns: int


def read_complete_folder(
    folder: Path, settle_seconds: float = SETTLE_SECONDS, timeout_seconds: float = SETTLE_TIMEOUT_SECONDS
) -> list[SourceFile]:
    """Read every entity file in ``folder`` once the folder is complete; prove nothing changed meanwhile.

    Raises:
        SourceUnavailable: the folder is missing, still being written, or its checksums do not match yet.
        InputChanged: a file changed while it was read.
        SourceError: a file cannot be read.
    """
    folder = Path(folder)
    found = entity_files(folder)
    before = wait_until_stable(folder, [path for _, path in found], settle_seconds, timeout_seconds)
    files = [read_source_file(path, entity) for entity, path in found]
    check_checksums(folder, {f.path: f.content_hash for f in files})
    check_unchanged(before)
    return files


def file_states(paths: Sequence[Path]) -> dict[Path, FileState]:
    """Size and modification time of each file now."""
    out = {}
    for path in paths:
        st = os.stat(path)
        out[path] = FileState(st.st_size, st.st_mtime_ns)
    return out


def wait_until_stable(
    folder: Path, paths: Sequence[Path], settle_seconds: float, timeout_seconds: float
) -> dict[Path, FileState]:
    """Wait until the files in ``folder`` are complete by the rules above; their states before the read.

    Args:
        folder: the input folder.
        paths: the entity files about to be read.
        settle_seconds: how long sizes and times must stay unchanged (0: no wait, the after-read check only).
        timeout_seconds: how long to wait for a folder still being written.

    Raises:
        SourceUnavailable: files still changing after ``timeout_seconds`` (worth a retry later).
    """
    states = file_states(paths)
    if settle_seconds <= 0 or (folder / CHECKSUMS).is_file() or (folder / READY).is_file():
        return states
    deadline = time.monotonic() + timeout_seconds
    while True:
        newest = max((s.mtime_ns for s in states.values()), default=0) / 1e9
        if time.time() - newest >= settle_seconds:
            return states  # every file already older than the interval
        time.sleep(settle_seconds)
        again = file_states(paths)
        if again == states:
            return states
        if time.monotonic() >= deadline:
            moving = sorted(p.name for p in paths if again[p] != states[p])
            raise SourceUnavailable(
                f"{folder}: {', '.join(moving)} still being written after {timeout_seconds:g} s (size or "
                f"modification time changed within {settle_seconds:g} s) (rule: input_complete); the run "
                f"reads a folder only when it is stable: have the exporter write {READY} or {CHECKSUMS} last."
            )
        states = again


def check_checksums(folder: Path, digests: dict[Path, str]) -> None:
    """If ``folder`` has a ``_SHA256SUMS`` manifest, every file read must be listed and match it.

    Raises:
        SourceUnavailable: a file is not listed, or its content differs from its checksum (not complete yet).
    """
    manifest = folder / CHECKSUMS
    if not manifest.is_file():
        return
    listed = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.strip().partition(" ")
            listed[name.strip().lstrip("*")] = digest.lower()
    for path, digest in digests.items():
        if path.name not in listed:
            raise SourceUnavailable(f"{path.name}: not listed in {CHECKSUMS} (rule: input_complete); the "
                                    "manifest lists every file of the delivery.")
        if digest != listed[path.name]:
            raise SourceUnavailable(f"{path.name}: its content differs from its checksum in {CHECKSUMS} "
                                    "(rule: input_complete): the file is not complete yet or not the one listed.")


def check_unchanged(before: dict[Path, FileState]) -> None:
    """Raise if a file changed since ``before`` (taken before it was read).

    Raises:
        InputChanged: names the file and what changed; nothing read is used.
    """
    for path, state in before.items():
        try:
            now = file_states([path])[path]
        except FileNotFoundError:
            raise InputChanged(f"{path.name}: removed while it was read (rule: input_unchanged); nothing "
                               "read is used. Run again when the delivery is complete.") from None
        if now != state:
            raise InputChanged(
                f"{path.name}: changed while it was read (size {state.size} -> {now.size} bytes) "
                "(rule: input_unchanged); nothing read is used. Run again when the delivery is complete."
            )
