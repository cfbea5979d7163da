"""The benchmark corpus: real PyTorch code nobody here wrote.

* pinned PyPI packages installed with ``pip install --no-deps --target`` into the work
  folder (never into the project's environment);
* the Python sources of the installed torch (2.13.0);
* the project's ``examples/``.

Each set is copied (``.py`` files only, without the directories every tool here skips
by default) into ``<work>/trees/<set>/`` so that every tool is handed one directory and
sees exactly the same files.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import REPO, count_lines

#: Pinned versions (checked on PyPI on the date in docs/benchmarks.md).
PACKAGES = {
    "timm": "1.0.31",
    "pytorch-lightning": "2.6.6",
    "torchmetrics": "1.9.0",
    "accelerate": "1.15.0",
    "transformers": "5.24.0",
}
TORCHFIX = "torchfix==0.7.0"
#: Import packages of each set (pytorch-lightning ships lightning_fabric too).
LIBRARIES = ("timm", "pytorch_lightning", "lightning_fabric", "torchmetrics", "accelerate")
TRANSFORMERS = ("transformers",)
# Directories that gradguard, ruff or both skip when walking a tree: left out of the
# copies so every tool checks the same files.
_SKIPPED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "node_modules", ".tox", ".nox",
        ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist", "site-packages",
        "_build", "buck-out", "__pypackages__", ".eggs",
    }
)  # fmt: skip


@dataclass(frozen=True)
class FileSet:
    name: str
    root: Path
    files: tuple[Path, ...]
    lines: int

    @property
    def count(self) -> int:
        return len(self.files)


def torch_source_dir() -> Path:
    """The installed torch package, found without importing it."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("torch is not installed in this environment")
    return Path(next(iter(spec.submodule_search_locations)))


def install_packages(work: Path, names: tuple[str, ...] = tuple(PACKAGES)) -> Path:
    """``pip install --no-deps --target <work>/site`` of the pinned packages (once)."""
    site = work / "site"
    marker = site / ".installed"
    pins = {name: version for name, version in PACKAGES.items() if name in names}
    wanted = " ".join(f"{name}=={version}" for name, version in sorted(pins.items()))
    if marker.exists() and set(wanted.split()) <= set(marker.read_text().split()):
        return site
    site.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade"]
        + ["--target", str(site)]
        + [f"{name}=={version}" for name, version in sorted(pins.items())],
        check=True,
    )
    marker.write_text(wanted)
    return site


def install_torchfix(work: Path) -> Path | None:
    """TorchFix in a venv of its own (it pins its own dependencies); its Python."""
    venv = work / "torchfix-venv"
    python = venv / "bin" / "python"
    executable = venv / "bin" / "torchfix"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", TORCHFIX])
        if done.returncode != 0:
            return None
    return executable


def _python_files(root: Path) -> list[Path]:
    found = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIPPED_DIRS and not d.endswith(".egg-info")
        )
        found += [Path(directory, f) for f in sorted(filenames) if f.endswith(".py")]
    return found


def build_tree(work: Path, name: str, sources: list[tuple[str, Path]]) -> FileSet:
    """Copy the ``.py`` files of each (label, directory) into ``<work>/trees/<name>/``."""
    root = work / "trees" / name
    if root.exists():
        shutil.rmtree(root)
    for label, source in sources:
        for path in _python_files(source):
            target = root / label / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return file_set(name, root)


def file_set(name: str, root: Path) -> FileSet:
    files = tuple(_python_files(root))
    return FileSet(name, root, files, count_lines(files))


def subset(work: Path, name: str, source: FileSet, max_lines: int) -> FileSet:
    """A deterministic spread of ``source``'s files (every k-th file) up to ``max_lines``,
    copied to its own tree. Files over a quarter of the budget are left out."""
    sized = [(path, path.read_bytes().count(b"\n")) for path in source.files]
    sized = [(p, n) for p, n in sized if 0 < n <= max_lines // 4]
    if not sized:
        raise RuntimeError(f"no file of {source.name} fits a {max_lines}-line subset")
    average = sum(n for _, n in sized) / len(sized)
    step = max(1, int(len(sized) / max(1, max_lines / average)))
    root = work / "trees" / name
    if root.exists():
        shutil.rmtree(root)
    total = 0
    for path, lines in sized[::step]:
        if total + lines > max_lines:
            continue
        target = root / path.relative_to(source.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        total += lines
    return file_set(name, root)


def build_corpus(work: Path, *, smoke: bool, transformers: bool = True) -> dict[str, FileSet]:
    """The file sets: ``examples`` and ``torch`` always; ``libraries`` (from PyPI) unless
    ``smoke``, and ``transformers`` too if asked."""
    sets = {
        "examples": build_tree(work, "examples", [("examples", REPO / "examples")]),
    }
    torch_dir = torch_source_dir()
    if smoke:
        # A small slice of torch: the optimizers.
        sets["torch"] = build_tree(work, "torch", [("torch/optim", torch_dir / "optim")])
        return sets
    sets["torch"] = build_tree(work, "torch", [("torch", torch_dir)])
    wanted = tuple(n for n in PACKAGES if transformers or n != "transformers")
    site = install_packages(work, wanted)
    sets["libraries"] = build_tree(work, "libraries", [(p, site / p) for p in LIBRARIES])
    if transformers:
        sets["transformers"] = build_tree(
            work, "transformers", [(p, site / p) for p in TRANSFORMERS]
        )
    return sets
