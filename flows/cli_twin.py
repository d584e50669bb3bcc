"""Commands of plantwin's CLI for the twin (registered on the main app by flows.cli)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

__all__ = ["register"]


def register(app: typer.Typer, friendly: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Add this module's commands to ``app``; ``friendly`` turns known errors into one-paragraph messages."""
