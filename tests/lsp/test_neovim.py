"""A second, independent LSP client: headless Neovim drives ``gradguard server``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lsp_helpers import GG201_CODE

from gradguard.rules import get_rule

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).parent / "nvim" / "smoke.lua"


@pytest.mark.skipif(shutil.which("nvim") is None, reason="Neovim is not installed")
def test_neovim_diagnostics_hover_and_quick_fix(tmp_path):
    if get_rule("GG201") is None:
        pytest.skip("GG201 is not in the engine yet")
    source = tmp_path / "train.py"
    source.write_text(GG201_CODE)
    out = tmp_path / "result.json"
    env = {
        **os.environ,
        "GG_FILE": str(source),
        "GG_OUT": str(out),
        "GG_PYTHON": sys.executable,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    completed = subprocess.run(
        ["nvim", "--headless", "--clean", "-u", "NONE", "-n", "-c", f"luafile {SCRIPT}"],
        env=env,
        capture_output=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )
    assert out.exists(), completed.stderr.decode(errors="replace")[-2000:]
    result = json.loads(out.read_text())
    assert result["ok"], result
    assert result["lnum"] == GG201_CODE.splitlines().index("model.bias = None")
    assert result["col"] == 0
    assert "none-assigned-to-parameter" in result["hover"]
    assert "Disable GG201 for this line" in result["titles"]
    assert "model.bias = None" not in result["text"]
