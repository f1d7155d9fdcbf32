from __future__ import annotations

from pathlib import Path

import pytest

from common.storage.paths import PathOutsideRoots, resolve_within


def test_relative_name_inside_a_root(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"x")
    assert resolve_within("a.wav", [tmp_path]) == (tmp_path / "a.wav").resolve()


def test_prefers_the_root_where_the_file_exists(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    (second / "v.wav").write_bytes(b"x")
    assert resolve_within("v.wav", [first, second]) == (second / "v.wav").resolve()


@pytest.mark.parametrize("given", ["../x.wav", "../../etc/passwd", "/etc/passwd", "sub/../../x"])
def test_escapes_are_refused(tmp_path: Path, given: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(PathOutsideRoots):
        resolve_within(given, [root])


def test_symlink_pointing_out_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret").write_text("x")
    (root / "link.wav").symlink_to(tmp_path / "secret")
    with pytest.raises(PathOutsideRoots):
        resolve_within("link.wav", [root])


def test_prefix_sibling_is_not_inside(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root2").mkdir()
    with pytest.raises(PathOutsideRoots):
        resolve_within(tmp_path / "root2" / "x.wav", [tmp_path / "root"])


def test_a_nul_byte_is_refused_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(PathOutsideRoots):
        resolve_within("a\x00b.wav", [tmp_path])


def test_names_too_long_for_any_file_system_are_refused_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(PathOutsideRoots):
        resolve_within("x" * 300 + ".wav", [tmp_path])
    with pytest.raises(PathOutsideRoots):
        resolve_within("/".join(["d" * 200] * 30), [tmp_path])
