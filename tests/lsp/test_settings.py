"""Configuration: initializationOptions, workspace/configuration per folder,
[tool.gradguard] in pyproject.toml, their precedence, and changes at run time."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsp_helpers import CONFIG, GG204_CODE, Doc, codes, initialize, wait_for
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("settings")
    for name in ("plain", "project", "second"):
        (root / name).mkdir()
    (root / "project" / "pyproject.toml").write_text(
        '[tool.gradguard]\nseverity = { GG204 = "information" }\n'
    )
    return root


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, root):
    lsp_client.set_configuration({"debounceMs": 10}, section="gradguard")
    lsp_client.set_configuration(
        {"gradguard": {"debounceMs": 10, "ignore": ["GG204"]}},
        scope_uri=(root / "second").as_uri(),
    )
    await initialize(
        lsp_client,
        root,
        folders=[root / "plain", root / "project", root / "second"],
        options={"gradguard": {"severity": {"GG204": "warning"}}},
    )
    yield
    await lsp_client.shutdown_session()


def current(client, uri):
    return list(client.diagnostics.get(uri, []))


async def change_settings(client: LanguageClient, settings: dict) -> None:
    """Send new settings and wait until the server has applied them: it logs the effective
    settings right before it applies them (a fixed sleep lost that race on a loaded machine)."""
    applied = _settings_logged(client)
    client.set_configuration(settings, section="gradguard")
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"gradguard": settings})
    )
    await wait_for(lambda: _settings_logged(client) > applied, timeout=30)


def _settings_logged(client: LanguageClient) -> int:
    return sum("effective settings" in m.message for m in client.log_messages)


async def test_watcher_for_pyproject_is_registered(client: LanguageClient, root):
    await wait_for(lambda: client.recorder.registrations)
    (registration,) = client.recorder.registrations
    assert registration.method == "workspace/didChangeWatchedFiles"
    assert registration.register_options["watchers"][0]["globPattern"] == (
        "**/{pyproject.toml,gradguard.toml,.gradguard.toml}"
    )


async def test_startup_logs_versions_and_effective_settings(client: LanguageClient, root):
    await wait_for(lambda: any("effective settings" in m.message for m in client.log_messages))
    messages = "\n".join(m.message for m in client.log_messages)
    assert "GradGuard 0.1.0 language server" in messages
    assert "python: " in messages and "pygls 2.1.1" in messages and "jedi 0.20" in messages
    assert "lsprotocol 2025.0.0" in messages
    assert "'debounceMs': 10" in messages


async def test_initialization_options_apply(client: LanguageClient, root):
    doc = Doc(client, root / "plain" / "a.py", GG204_CODE).open()
    (diagnostic,) = await doc.diagnostics()
    assert diagnostic.severity == types.DiagnosticSeverity.Warning  # default is error


async def test_per_folder_configuration(client: LanguageClient, root):
    doc = Doc(client, root / "second" / "a.py", GG204_CODE).open()
    assert await doc.diagnostics() == []  # that folder ignores GG204


async def test_pyproject_below_editor_settings(client: LanguageClient, root):
    """pyproject says information; initializationOptions say warning: the editor wins."""
    doc = Doc(client, root / "project" / "a.py", GG204_CODE).open()
    (diagnostic,) = await doc.diagnostics()
    assert diagnostic.severity == types.DiagnosticSeverity.Warning


async def test_did_change_configuration_republishes(client: LanguageClient, root):
    doc = Doc(client, root / "plain" / "change.py", GG204_CODE).open()
    assert codes(await doc.diagnostics()) == ["GG204"]
    await change_settings(client, {"debounceMs": 10, "severity": {"GG204": "hint"}})
    await wait_for(
        lambda: [d.severity for d in current(client, doc.uri)] == [types.DiagnosticSeverity.Hint]
    )
    await change_settings(client, {"debounceMs": 10, "select": ["GG1"]})
    await wait_for(lambda: current(client, doc.uri) == [])
    await change_settings(client, {"debounceMs": 10, "enable": False, "select": ["GG"]})
    await asyncio.sleep(0.2)
    assert current(client, doc.uri) == []
    await change_settings(client, {"debounceMs": 10})
    await wait_for(lambda: codes(current(client, doc.uri)) == ["GG204"])


async def test_pyproject_edits_republish(client: LanguageClient, root):
    await change_settings(client, {"debounceMs": 10})
    pyproject = root / "project" / "pyproject.toml"
    doc = Doc(client, root / "project" / "watched.py", GG204_CODE).open()
    assert codes(await doc.diagnostics()) == ["GG204"]
    pyproject.write_text('[tool.gradguard]\nignore = ["GG2"]\n')
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=pyproject.as_uri(), type=types.FileChangeType.Changed)]
        )
    )
    await wait_for(lambda: current(client, doc.uri) == [])
    pyproject.write_text("[tool.gradguard]\n")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=pyproject.as_uri(), type=types.FileChangeType.Changed)]
        )
    )
    await wait_for(lambda: codes(current(client, doc.uri)) == ["GG204"])


async def test_invalid_pyproject_is_reported_once_with_file_and_key(client: LanguageClient, root):
    pyproject = root / "project" / "pyproject.toml"
    pyproject.write_text('[tool.gradguard]\nselect = ["XX1"]\n')
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=pyproject.as_uri(), type=types.FileChangeType.Changed)]
        )
    )
    doc = Doc(client, root / "project" / "invalid.py", GG204_CODE).open()
    assert codes(await doc.diagnostics()) == ["GG204"]  # defaults used for the bad key
    await wait_for(lambda: any("XX1" in m.message for m in client.messages))
    shown = [m for m in client.messages if "XX1" in m.message]
    assert len(shown) == 1
    assert str(pyproject) in shown[0].message and "[select]" in shown[0].message
    assert any("XX1" in m.message for m in client.log_messages)
    pyproject.write_text("[tool.gradguard]\n")


async def test_invalid_editor_settings_name_the_key(client: LanguageClient, root):
    before = len(client.messages)
    await change_settings(client, {"debounceMs": -5, "run": "sometimes"})
    await wait_for(lambda: len(client.messages) > before)
    (message,) = client.messages[before:]
    assert message.type == types.MessageType.Warning
    assert "gradguard.debounceMs" in message.message and "gradguard.run" in message.message
    doc = Doc(client, root / "plain" / "invalid_settings.py", GG204_CODE).open()
    assert codes(await doc.diagnostics()) == ["GG204"]  # defaults used
    await change_settings(client, {"debounceMs": 10})


async def test_run_on_save_only(client: LanguageClient, root):
    await change_settings(client, {"debounceMs": 0, "run": "onSave"})
    await asyncio.sleep(0.1)
    doc = Doc(client, root / "plain" / "on_save.py", GG204_CODE).open()
    assert codes(await doc.diagnostics()) == ["GG204"]  # open analyses at once
    doc.replace_all(GG204_CODE.replace("_init_", "__init__"))
    await asyncio.sleep(0.3)
    assert all(p.version == 1 for p in client.recorder.published[doc.uri])
    doc.save()
    assert await doc.diagnostics() == []
    await change_settings(client, {"debounceMs": 10})


async def test_noqa_action_can_be_turned_off(client: LanguageClient, root):
    await change_settings(
        client, {"debounceMs": 10, "codeAction": {"disableRuleComment": {"enable": False}}}
    )
    await asyncio.sleep(0.1)
    doc = Doc(client, root / "plain" / "no_noqa.py", GG204_CODE).open()
    diagnostics = await doc.diagnostics()
    titles = [a.title for a in await doc.actions(diagnostics)]
    assert "Disable GG204 for this line" not in titles
    assert "GradGuard (GG204): Rename to __init__" in titles
    await change_settings(client, {"debounceMs": 10, "codeAction.disableRuleComment.enable": True})
    await asyncio.sleep(0.2)
    doc.replace_all(doc.text + "\n")
    diagnostics = await doc.diagnostics()
    assert "Disable GG204 for this line" in [a.title for a in await doc.actions(diagnostics)]


async def test_unusable_interpreter_is_reported_and_analysis_goes_on(client: LanguageClient, root):
    before = len(client.messages)
    await change_settings(client, {"debounceMs": 10, "interpreter": str(root / "no-python")})
    await asyncio.sleep(0.1)
    doc = Doc(client, root / "plain" / "interpreter.py", GG204_CODE).open()
    assert codes(await doc.diagnostics()) == ["GG204"]
    await wait_for(
        lambda: any("gradguard.interpreter" in m.message for m in client.messages[before:])
    )
    await change_settings(client, {"debounceMs": 10})


async def test_configuration_names_the_file_instead_of_the_nearest_pyproject(
    client: LanguageClient, root
):
    (root / "plain" / "ci").mkdir()
    # A gradguard.toml-style file (top-level keys), as `gradguard check --config` reads it.
    (root / "plain" / "ci" / "strict.toml").write_text('ignore = ["GG2"]\n')
    await change_settings(client, {"debounceMs": 10, "configuration": "ci/strict.toml"})
    await asyncio.sleep(0.1)
    doc = Doc(client, root / "plain" / "configured.py", GG204_CODE).open()
    await doc.diagnostics()
    # The named file (relative to the folder) ignores GG2. On a loaded machine the server may
    # analyse the document before it has fetched the new settings; then it publishes again.
    await wait_for(lambda: current(client, doc.uri) == [] and doc.uri in client.diagnostics)
    before = len(client.messages)
    await change_settings(client, {"debounceMs": 10, "configuration": "ci/missing.toml"})
    await wait_for(lambda: any("missing.toml" in m.message for m in client.messages[before:]))
    await change_settings(client, {"debounceMs": 10})
    await wait_for(lambda: codes(current(client, doc.uri)) == ["GG204"])


async def test_exclude_and_command_line_args(client: LanguageClient, root):
    await change_settings(client, {"debounceMs": 10, "exclude": ["generated/*"]})
    await asyncio.sleep(0.1)
    excluded = Doc(client, root / "plain" / "generated" / "model.py", GG204_CODE).open()
    kept = Doc(client, root / "plain" / "kept.py", GG204_CODE).open()
    await excluded.diagnostics()
    # On a loaded machine the server may analyse before it has fetched the new settings
    # (seen at load 20); then it publishes again, empty.
    await wait_for(lambda: current(client, excluded.uri) == [])
    assert codes(await kept.diagnostics()) == ["GG204"]
    await change_settings(client, {"debounceMs": 10, "args": ["--ignore", "GG204"]})
    await wait_for(lambda: current(client, kept.uri) == [])
    # A named setting wins over the same option in args.
    await change_settings(client, {"debounceMs": 10, "args": ["--ignore=GG204"], "ignore": ["GG1"]})
    await wait_for(lambda: codes(current(client, kept.uri)) == ["GG204"])
    await change_settings(client, {"debounceMs": 10})


async def test_syntax_errors_and_notifications_can_be_turned_off(client: LanguageClient, root):
    quiet = {"debounceMs": 10, "showSyntaxErrors": False, "showNotifications": "off"}
    await change_settings(client, quiet)
    await asyncio.sleep(0.1)
    doc = Doc(client, root / "plain" / "broken.py", "def broken(:\n").open()
    assert await doc.diagnostics() == []
    shown, logged = len(client.messages), len(client.log_messages)
    await change_settings(client, {**quiet, "run": "onEveryKey"})
    await wait_for(lambda: any("gradguard.run" in m.message for m in client.log_messages[logged:]))
    assert client.messages[shown:] == []  # logged, not shown
    await change_settings(client, {"debounceMs": 10})
    await wait_for(lambda: len(current(client, doc.uri)) == 1)


async def test_gradguard_toml_and_table_less_pyproject(client: LanguageClient, root):
    """The editor finds configuration as the CLI does: a sub-package's pyproject.toml
    without [tool.gradguard] is passed over; gradguard.toml is read and watched."""
    await change_settings(client, {"debounceMs": 10})
    folder = root / "plain" / "toml"
    (folder / "sub").mkdir(parents=True)
    config = folder / "gradguard.toml"
    config.write_text('ignore = ["GG2"]\n')
    (folder / "sub" / "pyproject.toml").write_text('[project]\nname = "sub"\n')
    doc = Doc(client, folder / "sub" / "train.py", GG204_CODE).open()
    assert await doc.diagnostics() == []
    config.write_text("")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=config.as_uri(), type=types.FileChangeType.Changed)]
        )
    )
    await wait_for(lambda: codes(current(client, doc.uri)) == ["GG204"])
