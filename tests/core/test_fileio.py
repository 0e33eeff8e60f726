"""Atomic writes: the target is the old content or the complete new one, never a fragment."""

from __future__ import annotations

import pytest

from swansphere.fileio import atomic_directory, atomic_file


def test_atomic_file_replaces_only_on_success(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    with atomic_file(target) as temporary:
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_atomic_directory_replaces_a_whole_folder(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as temporary:
        (temporary / "a.txt").write_text("one")
    with pytest.raises(ZeroDivisionError), atomic_directory(target) as temporary:
        (temporary / "b.txt").write_text("two")
        1 / 0  # noqa: B018
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    with atomic_directory(target) as temporary:
        (temporary / "c.txt").write_text("three")
    assert [p.name for p in target.iterdir()] == ["c.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
