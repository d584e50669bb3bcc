"""Values that may be secrets, named in messages without being shown.

A source config names where a password comes from (``password_env = "PLANTWIN_PG_PASSWORD"``). A person
who writes the password itself there by mistake must not find it echoed on the console, in ``runs.error``
or in Prefect's logs: a message shows such a reference only when it looks like what it should be (an
environment variable name in capitals), and otherwise says what it is without its characters.
"""

from __future__ import annotations

import re

__all__ = ["ENV_NAME", "is_env_name", "env_reference"]

#: An environment variable name as conventionally written: capitals, digits and underscores.
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


def is_env_name(value: str) -> bool:
    """Whether ``value`` looks like an environment variable name (``PLANTWIN_PG_PASSWORD``)."""
    return ENV_NAME.fullmatch(value) is not None


def env_reference(value: str, key: str = "password_env") -> str:
    """``value`` as a message may show it: itself if it is an environment variable name, else a
    description without its characters (it may be the password itself).

    >>> env_reference("PLANTWIN_PG_PASSWORD")
    'PLANTWIN_PG_PASSWORD'
    >>> env_reference("s3cr3t!Pa55")
    'a value of 11 characters that is not an environment variable name (not shown: it may be the password itself; give password_env the NAME of the variable holding the password)'
    """
    if is_env_name(value):
        return value
    return (
        f"a value of {len(value)} characters that is not an environment variable name (not shown: it may "
        f"be the password itself; give {key} the NAME of the variable holding the password)"
    )
