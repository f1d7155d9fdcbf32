from __future__ import annotations

import os
import time
from pathlib import Path

from common.storage.retention import DiskUsageProbe, remove_older_than


def test_disk_usage_is_walked_at_most_once_per_interval(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    cached = DiskUsageProbe(tmp_path, max_age_s=60)
    fresh = DiskUsageProbe(tmp_path, max_age_s=0)
    assert cached.get().used_bytes == fresh.get().used_bytes == 1000
    (tmp_path / "b.bin").write_bytes(b"x" * 500)
    time.sleep(0.01)
    assert cached.get().used_bytes == 1000  # within its interval: no new walk
    assert fresh.get().used_bytes == 1500
    assert fresh.get().free_bytes > 0


def test_only_files_older_than_the_retention_are_removed(tmp_path: Path) -> None:
    old, new = tmp_path / "sub" / "old.mp4", tmp_path / "new.mp4"
    old.parent.mkdir()
    old.write_bytes(b"1")
    new.write_bytes(b"2")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert remove_older_than(tmp_path, 3600) == 1
    assert not old.exists() and new.exists()
    assert remove_older_than(tmp_path / "missing", 3600) == 0
