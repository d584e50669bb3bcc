"""A git ref's code as a benchmark's baseline: the ref's tree exported (``git archive``) into a folder whose
packages a child process imports with the same virtualenv (``bench/contracts.py``, ``junk_memory.py``,
``scale.py``, ``plan_stage.py`` ``--baseline-ref``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["export_ref"]

ROOT = Path(__file__).resolve().parents[1]


def export_ref(ref: str, dest: Path) -> Path:
    """``ref``'s tree of this repository extracted into ``dest`` (created if missing); returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest
