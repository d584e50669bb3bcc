"""Publish a read-only snapshot of the warehouse for analysts, by atomic rename."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["published_path", "publish_snapshot"]


def published_path(warehouse: Path | str) -> Path:
    """Where the snapshot of ``warehouse`` is published: ``published.duckdb`` beside it."""
    return Path(warehouse).with_name("published.duckdb")


def publish_snapshot(warehouse: Path | str) -> Path:
    """Copy the (closed, checkpointed) warehouse file and rename the copy over the published one.

    Readers holding the previous snapshot open keep reading it (the rename unlinks the old name only);
    new readers see the new snapshot whole.
    """
    source = Path(warehouse)
    target = published_path(source)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return target
