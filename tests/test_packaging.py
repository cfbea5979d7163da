"""What ships agrees with what the code needs: the VSIX's bundled libraries cover every
runtime dependency, inside its range, and every setting the extension contributes is one
the server reads or one the client itself handles."""

from __future__ import annotations

import json
import re
from pathlib import Path

from packaging.requirements import Requirement

from gradguard.config import _toml
from gradguard.lsp.settings import _CLIENT_ONLY, KNOWN_KEYS

ROOT = Path(__file__).resolve().parents[1]
tomllib = _toml()  # tomllib, or tomli on Python 3.10


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "scripts" / "bundled-requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if match:
            pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def test_bundled_libraries_pin_every_dependency_inside_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    for dependency in project["dependencies"]:
        requirement = Requirement(dependency)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is a dependency but not in scripts/bundled-requirements.txt"
        assert requirement.specifier.contains(pins[name]), (
            f"{name}=={pins[name]} not in {dependency}"
        )


def test_every_contributed_setting_is_read_by_the_server_or_the_client():
    manifest = json.loads((ROOT / "package.json").read_text())
    contributed = manifest["contributes"]["configuration"]["properties"]
    for key in contributed:
        name = key.removeprefix("gradguard.")
        assert name in KNOWN_KEYS or name.split(".")[0] in _CLIENT_ONLY, key
    for key in KNOWN_KEYS:
        assert f"gradguard.{key}" in contributed, f"the server reads {key}; VS Code cannot set it"
