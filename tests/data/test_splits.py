"""The reference / held-out split of labelled clips."""

from __future__ import annotations

import pytest

from swansphere.data.splits import split_by_label
from swansphere.errors import ConfigError


def test_split_holds_out_a_share_of_every_class_with_two_clips_or_more():
    items = [(label, f"{label}-{i}") for label, count in (("dog", 6), ("bell", 2), ("owl", 1))
             for i in range(count)]
    reference, held_out = split_by_label(items, label=lambda item: item[0],
                                         key=lambda item: item[1])
    held = [label for label, _ in held_out]
    assert sorted(held) == ["bell", "dog", "dog"]
    assert sorted(reference + held_out) == sorted(items)
    again = split_by_label(reversed(items), label=lambda item: item[0], key=lambda item: item[1])
    assert sorted(again[1]) == sorted(held_out)  # the catalogue's order does not matter
    with pytest.raises(ConfigError, match="held_out_share"):
        split_by_label(items, label=lambda item: item[0], key=lambda item: item[1],
                       held_out_share=1.0)
