"""Held-out splits: which clips of each class a model or a benchmark may not learn from.

The split is a hash of each item's key (a clip id), so it is the same on every machine and
does not move when the catalogue's order changes or other clips are installed.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TypeVar

from swansphere.errors import ConfigError

Item = TypeVar("Item")


def _stable_rank(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def split_by_label(items: Iterable[Item], *, label: Callable[[Item], str],
                   key: Callable[[Item], str], held_out_share: float = 1 / 3
                   ) -> tuple[list[Item], list[Item]]:
    """``(reference, held_out)``: per label with two items or more, ``round(share · n)`` of
    them held out (at least one, never all), chosen by a hash of ``key(item)``; a label with
    one item is reference only (it cannot be identified without a reference)."""
    if not 0 < held_out_share < 1:
        raise ConfigError(f"held_out_share must lie strictly between 0 and 1, got "
                          f"{held_out_share}")
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        groups[label(item)].append(item)
    reference, held_out = [], []
    for members in groups.values():
        ordered = sorted(members, key=lambda item: _stable_rank(key(item)))
        count = 0 if len(ordered) < 2 else min(max(round(held_out_share * len(ordered)), 1),
                                               len(ordered) - 1)
        held_out.extend(ordered[:count])
        reference.extend(ordered[count:])
    return reference, held_out
