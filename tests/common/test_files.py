from __future__ import annotations

import stat
from pathlib import Path

import pytest

from common.storage.files import atomic_target


def test_the_file_appears_only_when_complete_and_readable_by_others(tmp_path: Path) -> None:
    target = tmp_path / "out" / "result.txt"
    with atomic_target(target) as partial:
        partial.write_text("done")
        assert not target.exists() and partial.parent == target.parent
    assert target.read_text() == "done"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["result.txt"]


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "result.txt"
    with pytest.raises(RuntimeError), atomic_target(target) as partial:
        partial.write_text("half")
        raise RuntimeError("encoder died")
    assert list(tmp_path.iterdir()) == []
