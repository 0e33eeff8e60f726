"""Lazy package attributes (PEP 562): public names load from their modules on first use.

Packages whose modules import torch use this so that ``import swansphere.<package>`` and the
CLI stay fast; the names still appear in ``dir()`` and ``__all__``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, Iterable[str]], namespace: dict[str, Any]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``exports`` map each submodule
    (relative, or absolute for a name the package re-exports from elsewhere) to the names it
    provides; a loaded name is cached in the package's ``namespace``."""
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        relative = not module.startswith("swansphere.")
        value = getattr(importlib.import_module(f".{module}" if relative else module, package),
                        name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(module_of))

    return __getattr__, __dir__
