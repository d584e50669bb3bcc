"""Lazily imported public names of a package (PEP 562): a name is imported from its module on first use.

``data_contracts`` and ``forecasting`` keep their heavy libraries (Great Expectations, statsforecast) out of
a plain ``import``: their ``__init__`` maps each public name to the module defining it and takes its module
``__getattr__`` and ``__dir__`` from :func:`lazy_names`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    namespace: dict[str, Any], public: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is ``namespace``.

    Args:
        namespace: the package's ``globals()``.
        public: each lazily imported name → the module defining it.

    Usage, in a package's ``__init__``: ``__getattr__, __dir__ = lazy_names(globals(), _PUBLIC)``.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        if name in public:
            return getattr(importlib.import_module(public[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *public})

    return __getattr__, __dir__
