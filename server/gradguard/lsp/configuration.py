"""Which settings and project configuration apply to a document.

Settings come per workspace folder (parsed by :mod:`gradguard.lsp.settings`);
``[tool.gradguard]`` from the nearest ``pyproject.toml``, read again when its
modification time changes. ``generation`` counts changes of either: an analysis
of an older generation is never shown.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gradguard.config import Config, find_config, load_config_file
from gradguard.lsp.settings import Settings
from gradguard.lsp.targets import uri_to_path


class Configuration:
    def __init__(self, host: Any) -> None:
        self.host = host
        self.generation = 0
        self.init_settings = Settings()
        self.folder_settings: dict[str, Settings] = {}
        self.settings_ready = asyncio.Event()
        self._pyprojects: dict[str, tuple[float, Config]] = {}

    def folders(self) -> list[str]:
        return [f.uri for f in self.host.workspace_folders()]

    def folder_of(self, uri: str) -> str | None:
        matches = [f for f in self.folders() if uri == f or uri.startswith(f.rstrip("/") + "/")]
        return max(matches, key=len) if matches else None

    def root_of(self, uri: str) -> str | None:
        """The workspace folder holding ``uri`` as a path (else the workspace root)."""
        folder = self.folder_of(uri)
        root: str | None = uri_to_path(folder) if folder else self.host.root_path()
        return root

    def settings_for(self, uri: str) -> Settings:
        folder = self.folder_of(uri)
        if folder is not None and folder in self.folder_settings:
            return self.folder_settings[folder]
        return self.folder_settings.get("", self.init_settings)

    def window_settings(self) -> Settings:
        """Settings of no particular file (notifications, the log): the first folder's."""
        return next(iter(self.folder_settings.values()), self.init_settings)

    def project_config(self, path: str, uri: str) -> Config:
        folder = self.folder_of(uri)
        root = uri_to_path(folder) if folder else str(Path(path).parent)
        configured = self.settings_for(uri).config_file(root)  # gradguard.configuration
        if not Path(path).is_absolute() and configured is None:
            return Config(root=root)
        pyproject = configured or find_config(Path(path))
        if pyproject is None:
            return Config(root=root)
        try:
            mtime = pyproject.stat().st_mtime
        except OSError:
            if configured is None:
                return Config(root=root)
            mtime = -1.0  # a configured file that is missing: load_config_file says so
        cached = self._pyprojects.get(str(pyproject))
        if cached is None or cached[0] != mtime:
            cached = (mtime, load_config_file(pyproject))
            self._pyprojects[str(pyproject)] = cached
        return cached[1]

    def forget_pyprojects(self) -> None:
        self._pyprojects.clear()

    async def wait_ready(self) -> None:
        """Analyses wait for the first settings (at most 5 s: then defaults apply)."""
        try:
            await asyncio.wait_for(self.settings_ready.wait(), timeout=5)
        except asyncio.TimeoutError:
            self.settings_ready.set()
