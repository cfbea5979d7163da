"""Handlers of the session: initialize, shutdown, settings and watched files."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from typing import Any

from lsprotocol import types

from gradguard import __version__
from gradguard.lsp.host import GradGuardServer, is_config_file
from gradguard.lsp.settings import SECTION, apply_log_level, parse_settings, unwrap
from gradguard.lsp.targets import uri_to_path

log = logging.getLogger("gradguard.lsp")

PYPROJECT_GLOB = "**/{pyproject.toml,gradguard.toml,.gradguard.toml}"

# -- lifecycle -------------------------------------------------------------------------


def initialize(ls: GradGuardServer, params: types.InitializeParams) -> None:
    ls.read_capabilities(params.capabilities)
    ls.state.config.init_settings = parse_settings(
        unwrap(params.initialization_options), origin="initializationOptions"
    )
    ls.state.loop = asyncio.get_running_loop()
    if not ls.supports_configuration:
        ls.state.config.settings_ready.set()


async def initialized(ls: GradGuardServer, params: types.InitializedParams) -> None:
    for line in startup_lines():
        ls.log_message(line, types.MessageType.Info)
    ls.log_message(
        f"diagnostics: {'pull' if ls.pull_mode else 'push'}; position encoding: "
        f"{ls.position_encoding()}",
        types.MessageType.Info,
    )
    # Settings first: analyses wait for them (settings_ready).
    await fetch_settings(ls)
    log_effective_settings(ls)
    if ls.watch_dynamic:
        await _watch_config_files(ls)


async def _watch_config_files(ls: GradGuardServer) -> None:
    watcher = types.Registration(
        id="gradguard-pyproject-watcher",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern=PYPROJECT_GLOB)]
        ),
    )
    try:
        registration = types.RegistrationParams(registrations=[watcher])
        await asyncio.wait_for(ls.client_register_capability_async(registration), 10)
    except Exception as error:
        log.warning("could not register the pyproject.toml watcher: %s", error)


def shutdown(ls: GradGuardServer, params: Any) -> None:
    ls.state.shutdown()


# -- settings ----------------------------------------------------------------------------


async def fetch_settings(ls: GradGuardServer) -> None:
    """Ask for the ``gradguard`` section once per workspace folder."""
    config = ls.state.config
    try:
        if ls.supports_configuration:
            folders = config.folders()
            config.folder_settings = {
                folder: parse_settings(
                    unwrap(value) if value is not None else None,
                    base=config.init_settings,
                    origin=f"workspace/configuration ({folder or 'global'})",
                )
                for folder, value in zip(folders or [""], await _ask(ls, folders), strict=False)
            }
        problems = list(config.init_settings.errors)
        for settings in config.folder_settings.values():
            problems += list(settings.errors)
        if problems:
            ls.state.publisher.report_problems(problems)
    finally:
        config.settings_ready.set()


async def _ask(ls: GradGuardServer, folders: list[str]) -> list[Any]:
    """The client's ``gradguard`` settings per folder (nothing if it does not answer)."""
    items = [types.ConfigurationItem(scope_uri=f, section=SECTION) for f in folders] or [
        types.ConfigurationItem(section=SECTION)
    ]
    try:
        request = ls.workspace_configuration_async(types.ConfigurationParams(items=items))
        return list(await asyncio.wait_for(request, 10) or [])
    except Exception as error:
        log.warning("workspace/configuration failed: %s", error)
        return []


def log_effective_settings(ls: GradGuardServer) -> None:
    apply_log_level(ls.state.config.window_settings())
    state = ls.state.config
    entries = state.folder_settings or {"": state.init_settings}
    for folder, settings in entries.items():
        line = f"effective settings ({folder or 'global'}): {settings.describe()}"
        log.info("%s", line)
        ls.log_message(line, types.MessageType.Info)


async def did_change_configuration(
    ls: GradGuardServer, params: types.DidChangeConfigurationParams
) -> None:
    if ls.supports_configuration:
        await fetch_settings(ls)
    else:
        settings = parse_settings(
            unwrap(params.settings),
            base=ls.state.config.init_settings,
            origin="didChangeConfiguration",
        )
        ls.state.config.folder_settings = {"": settings}
        if settings.errors:
            ls.state.publisher.report_problems(list(settings.errors))
    log_effective_settings(ls)
    ls.state.settings_changed()


def did_change_watched_files(
    ls: GradGuardServer, params: types.DidChangeWatchedFilesParams
) -> None:
    for change in params.changes:  # a helper module edited outside the editor
        if change.uri.endswith(".py"):
            ls.state.answers.file_changed(uri_to_path(change.uri))
    if any(is_config_file(change.uri) for change in params.changes):
        ls.state.config.forget_pyprojects()
        ls.state.settings_changed()


async def did_change_folders(
    ls: GradGuardServer, params: types.DidChangeWorkspaceFoldersParams
) -> None:
    await fetch_settings(ls)
    ls.state.settings_changed()


@functools.lru_cache(maxsize=1)
def startup_lines() -> tuple[str, ...]:
    """Versions from the installed distributions' metadata: importing jedi to ask it
    costs start-up time, and jedi is only needed once a document imports something."""

    def version_of(dist: str) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(dist)
        except PackageNotFoundError:
            return "unknown"

    return (
        f"GradGuard {__version__} language server",
        f"python: {sys.executable} ({sys.version.split()[0]})",
        f"pygls {version_of('pygls')}, lsprotocol {version_of('lsprotocol')}, "
        f"jedi {version_of('jedi')}",
    )
