"""Bare-name exclude patterns (the default ``exclude``) are matched without pathspec,
exactly as pathspec's gitwildmatch matches them, on paths made relative to the root
as PurePath makes them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import PurePath
from unittest import mock

import pathspec
from hypothesis import given, settings
from hypothesis import strategies as st

from gradguard.config import DEFAULT_EXCLUDE, Config, compiled_patterns
from gradguard.name_patterns import NamePatterns, all_bare_names

NAMES = st.sampled_from(
    ["build", "dist", ".git", "x.egg-info", "egg-info", "src", "a.py", "venv", ".venv", "b"]
)
PATHS = st.lists(NAMES, min_size=1, max_size=4).map("/".join)
PATTERNS = st.lists(
    st.sampled_from(["build", "*.egg-info", "b?", "v*", "dist/", "a.py", "*", ".g*", "src/"]),
    min_size=1,
    max_size=3,
).map(tuple)


@settings(max_examples=400, deadline=None)
@given(PATTERNS, PATHS, st.booleans())
def test_bare_names_match_as_pathspec_does(patterns, path, is_dir):
    relative = path + "/" if is_dir else path
    expected = pathspec.GitIgnoreSpec.from_lines(patterns).match_file(relative)
    assert NamePatterns(patterns).match_file(relative) == expected


def test_the_default_exclude_is_matched_without_pathspec():
    assert all_bare_names(DEFAULT_EXCLUDE)
    assert isinstance(compiled_patterns(DEFAULT_EXCLUDE), NamePatterns)
    for relative in ["pkg/build/x.py", "x.egg-info/", "a/.git/", "src/model.py", "builder/a.py"]:
        expected = pathspec.GitIgnoreSpec.from_lines(DEFAULT_EXCLUDE).match_file(relative)
        assert compiled_patterns(DEFAULT_EXCLUDE).match_file(relative) == expected


def test_other_patterns_go_to_pathspec():
    for patterns in [("/build",), ("a/b",), ("!keep",), ("**/gen",), ("[ab].py",), ("..",)]:
        assert not all_bare_names(patterns), patterns
        assert isinstance(compiled_patterns(patterns), pathspec.PathSpec)


def test_walking_with_the_default_excludes_imports_no_pathspec(tmp_path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "gen.py").write_text("x = 1\n")
    (tmp_path / "train.py").write_text("x = 1\n")
    root = str(tmp_path)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from gradguard import files\n"
        "from gradguard.config import Config\n"
        f"found = files.discover([Path({root!r})], lambda d: Config(root={root!r}))\n"
        "print([p.name for p in found], 'pathspec' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split("]")[0] == "['train.py'"
    assert out.stdout.strip().endswith("False")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["/", "/work", "/work/proj", "/work/proj/", "/work/./proj", ".", "proj"]),
    st.sampled_from(
        ["/work/proj/a.py", "/work/proj", "/work/projx/a.py", "/work/./proj/b", "/x", "/"]
    ),
    st.sampled_from(["/", "/work", "/tmp"]),
)
def test_paths_relative_to_the_root_as_purepath_gives_them(root, path, cwd):
    """Config._relative's string shortcut answers as the PurePath loop it stands for."""
    config = Config(root=root)
    expected = _purepath_relative(path, (root, cwd))
    with mock.patch("os.getcwd", return_value=cwd):
        assert config._relative(path) == expected


def _purepath_relative(path: str, bases: tuple[str, str]) -> str:
    pure = PurePath(path)
    for base in bases:
        try:
            return pure.relative_to(base).as_posix()
        except ValueError:
            continue
    return pure.name
