"""Test-wide settings: no telemetry, a throwaway Prefect home, no network."""

from __future__ import annotations

import os
import tempfile

# Set before prefect / great_expectations are imported anywhere in the test session.
_PREFECT_HOME = tempfile.mkdtemp(prefix="plantwin-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
