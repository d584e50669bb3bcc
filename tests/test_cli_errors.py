"""The errors the command line turns into a one-paragraph message (exit 2) are where it looks for them.

``cli/main.py``'s ``_USER_ERRORS`` names each error by its module, so that the command imports no module for
it. At stop 42 ``WarehouseLocked`` moved from ``warehouse.db`` to ``warehouse.connection``: with the old entry
the error handler itself raised ``AttributeError`` on a held lock. This keeps every entry true after a move.
"""

from __future__ import annotations

import importlib

import pytest

from cli.main import _USER_ERRORS


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in _USER_ERRORS.items() for n in names])
def test_every_user_error_is_an_exception_of_the_module_named(module, name):
    error = getattr(importlib.import_module(module), name)
    assert isinstance(error, type) and issubclass(error, BaseException)
    assert error.__module__ == module or module == "pydantic"  # defined there, not only imported
