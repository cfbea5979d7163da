"""Late jedi answers re-analyse only the documents whose analysis asked about the
name; noqa comments come from a per-snapshot map read one line at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gradguard.analysis.resolution import SymbolKind
from gradguard.findings import Position
from gradguard.lsp import actions, hover
from gradguard.lsp.converted import diagnostics_of
from gradguard.lsp.workspace import Workspace

USES_NET = """\
import torch
from mypkg.models import Net

model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
"""

USES_OTHER = """\
import torch
from otherpkg.layers import Block

block = Block()
opt = torch.optim.SGD(block.parameters(), lr=0.1)
"""


class FakeResolver:
    """Answers nothing until told; records every question."""

    def __init__(self) -> None:
        self.answers: dict[str, SymbolKind] = {}
        self.asked: list[str] = []

    def classify(self, qualified_name: str, path: str) -> SymbolKind | None:
        self.asked.append(qualified_name)
        return self.answers.get(qualified_name)


class FakeHost:
    pull_mode = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self.documents: dict[str, Any] = {}
        self.published: list[tuple[str, int | None]] = []

    def workspace_folders(self) -> list[Any]:
        return []

    def root_path(self) -> str:
        return str(self.root)

    def position_encoding(self) -> str:
        return "utf-16"

    def text_document(self, uri: str) -> Any:
        return self.documents.get(uri)

    def text_document_uris(self) -> list[str]:
        return list(self.documents)

    def notebook(self, uri: str) -> None:
        return None

    def notebook_of_cell(self, uri: str) -> None:
        return None

    def publish(self, uri: str, version: int | None, diagnostics: list[Any]) -> None:
        self.published.append((uri, version))

    def log_message(self, *args: Any) -> None:
        pass

    def show_message(self, *args: Any) -> None:
        pass

    def request_diagnostic_refresh(self) -> None:
        pass

    def open(self, name: str, text: str, version: int = 1) -> str:
        uri = (self.root / name).as_uri()
        self.documents[uri] = SimpleNamespace(source=text, version=version, language_id="python")
        return uri


def _workspace(tmp_path: Path) -> tuple[Workspace, FakeHost, FakeResolver]:
    host = FakeHost(tmp_path)
    workspace = Workspace(host)
    resolver = FakeResolver()
    workspace.resolver_for = lambda uri, settings: resolver  # type: ignore[method-assign]
    workspace.config.settings_ready.set()
    return workspace, host, resolver


def _run(tmp_path: Path, scenario: Callable[..., Awaitable[None]]) -> None:
    """Run ``scenario(workspace, host, resolver)`` on an event loop, then shut down."""

    async def main() -> None:
        workspace, host, resolver = _workspace(tmp_path)
        workspace.loop = asyncio.get_running_loop()
        try:
            await scenario(workspace, host, resolver)
        finally:
            workspace.shutdown()

    asyncio.run(main())


async def _settle(workspace: Workspace) -> None:
    for _ in range(200):
        await asyncio.sleep(0.02)
        if not workspace.scheduler.tasks and not workspace.answers.refresh_pending:
            return


def test_an_answer_reanalyses_only_the_documents_that_asked(tmp_path: Path) -> None:
    async def scenario(workspace: Workspace, host: FakeHost, resolver: FakeResolver) -> None:
        net = host.open("train_net.py", USES_NET)
        other = host.open("train_other.py", USES_OTHER)
        first_net = await workspace.refresh(net)
        first_other = await workspace.refresh(other)
        assert first_net is not None and first_other is not None
        assert "mypkg.models.Net" in first_net.queried
        assert "mypkg.models.Net" not in first_other.queried

        host.published.clear()
        # Several answers in a burst: one re-analysis of the one document.
        resolver.answers["mypkg.models.Net"] = SymbolKind.MODULE_CLASS
        workspace.answers.resolved("mypkg.models.Net")
        workspace.answers.resolved("mypkg.models.Net")
        await _settle(workspace)

        assert workspace.snapshots[net] is not first_net
        assert workspace.snapshots[other] is first_other
        assert [uri for uri, _ in host.published].count(net) == 1
        assert other not in [uri for uri, _ in host.published]
        # The settings generation is untouched: nothing else went stale.
        assert workspace.config.generation == first_net.context.generation

        # A name nobody asked about re-analyses nothing.
        host.published.clear()
        workspace.answers.resolved("unrelated.Thing")
        await _settle(workspace)
        assert host.published == []

    _run(tmp_path, scenario)


def test_an_answer_during_an_analysis_keeps_its_result_and_refines_it(tmp_path: Path) -> None:
    async def scenario(workspace: Workspace, host: FakeHost, resolver: FakeResolver) -> None:
        net = host.open("train_net.py", USES_NET)
        workspace.schedule(net, 0)
        # The answer arrives while the analysis may still be running.
        await asyncio.sleep(0)
        resolver.answers["mypkg.models.Net"] = SymbolKind.MODULE_CLASS
        workspace.answers.resolved("mypkg.models.Net")
        await _settle(workspace)
        versions = [version for uri, version in host.published if uri == net]
        assert versions and all(v == 1 for v in versions)
        assert workspace.snapshots[net].context.epoch == workspace.answers.epochs.get(net, 0)

    _run(tmp_path, scenario)


NOQA_TEXT = '''\
import torch
x = 1  # noqa: GG101
doc = """
y = 2  # noqa: GG202 (inside a string: not a comment)
"""
z = 3
'''


def test_noqa_comments_are_read_per_line(tmp_path: Path) -> None:
    async def scenario(workspace: Workspace, host: FakeHost, _resolver: FakeResolver) -> None:
        uri = host.open("noqa.py", NOQA_TEXT)
        snapshot = await workspace.refresh(uri, publish=False)
        assert snapshot is not None
        # No noqa on the line: nothing tokenized, no map built.
        assert snapshot.noqa_comments_on(5) == []
        assert not snapshot.derived.has("noqa")
        assert [c.text for c in snapshot.noqa_comments_on(1)] == ["# noqa: GG101"]
        # A line of a multi-line string holds no comment.
        assert snapshot.noqa_comments_on(3) == []

        code = hover.noqa_code_at(snapshot, Position(1, 17))
        assert code is not None and code[0] == "GG101"
        assert hover.noqa_code_at(snapshot, Position(3, 17)) is None

        extend = actions.noqa_edit(snapshot, 1, "GG102")
        assert extend is not None and extend.new_text == ", GG102"
        assert extend.span.start == Position(1, len("x = 1  # noqa: GG101"))
        assert actions.noqa_edit(snapshot, 1, "GG101") is None
        add = actions.noqa_edit(snapshot, 5, "GG101")
        assert add is not None and add.new_text == "  # noqa: GG101"
        inside = actions.noqa_edit(snapshot, 3, "GG101")
        assert inside is not None and inside.new_text == "  # noqa: GG101"

    _run(tmp_path, scenario)


def test_facts_stay_alive_for_the_latest_version_of_the_last_four_documents(
    tmp_path: Path,
) -> None:
    # Hovers reuse the analysis's tree; only a few documents may keep theirs (RSS).
    async def scenario(workspace: Workspace, host: FakeHost, _resolver: FakeResolver) -> None:
        uris = [host.open(f"doc{i}.py", USES_OTHER) for i in range(6)]
        for uri in uris:
            await workspace.refresh(uri)
        edited = uris[-1]
        old = workspace.snapshots[edited]
        for version in (2, 3, 4, 5, 6):  # many versions of one document
            host.open("doc5.py", USES_OTHER + f"\nx = {version}\n", version)
            await workspace.refresh(edited)  # incremental: a partial tree, not kept
            await workspace.check_in_full(edited)  # the check once typing pauses
        kept = [uri for uri in uris if workspace.snapshots[uri].kept.facts is not None]
        assert kept == uris[2:]  # four documents, not four versions of one
        assert old.kept.facts is None  # a superseded version lets its tree go
        workspace.closed(uris[2])
        assert uris[2] not in workspace.kept.facts

    _run(tmp_path, scenario)


def _long_script() -> str:
    from benchmarks.scripts import training_script

    return training_script(1200)


def _edited(text: str) -> str:
    """A keystroke in the middle of the file, inside one training function."""
    middle = text.index("criterion = nn.CrossEntropyLoss()", len(text) // 2)
    return (
        text[:middle]
        + "criterion = nn.CrossEntropyLoss(label_smoothing=0.1)"
        + text[middle + len("criterion = nn.CrossEntropyLoss()") :]
    )


async def _open_then_edit(
    workspace: Workspace, host: FakeHost, *, incremental: bool = True
) -> tuple[str, str, Any, Any]:
    """Open a long script, analyse it, edit one line and analyse that: (uri, the
    original text, the first snapshot, the snapshot after the edit)."""
    text = _long_script()
    uri = host.open("train.py", text)
    first = await workspace.refresh(uri)
    assert first is not None and first.exact
    host.open("train.py", _edited(text), 2)
    edited = await workspace.refresh(uri)
    assert edited is not None and edited.exact is not incremental
    return uri, text, first, edited


def test_an_edit_publishes_a_partial_result_that_the_full_check_confirms(
    tmp_path: Path,
) -> None:
    async def scenario(workspace: Workspace, host: FakeHost, _resolver: FakeResolver) -> None:
        uri, _, first, partial = await _open_then_edit(workspace, host)
        assert first.kept.baseline is not None and partial.kept.facts is None
        assert partial.result_id.endswith(":partial")
        assert uri in workspace.scheduler.full_checks  # scheduled for when typing pauses
        assert host.published[-1] == (uri, 2)

        published = len(host.published)
        await workspace.check_in_full(uri)
        full = workspace.snapshots[uri]
        assert full is not partial and full.exact and full.kept.facts is not None
        assert set(full.result.findings) == set(partial.result.findings)
        assert len(host.published) == published  # the same findings: nothing to send
        # What was shown stands for the full result's findings at the next edit.
        assert len(workspace.converted.shown(uri)) == len(full.result.findings)
        assert workspace.snapshots[uri] is full  # hovers get the whole tree

    _run(tmp_path, scenario)


def test_a_full_check_that_finds_something_else_is_published(tmp_path: Path) -> None:
    async def scenario(workspace: Workspace, host: FakeHost, _resolver: FakeResolver) -> None:
        uri, _, _, partial = await _open_then_edit(workspace, host)
        partial.result.findings = partial.result.findings[1:]  # as if the shortcut missed one
        published = len(host.published)
        await workspace.check_in_full(uri)
        full = workspace.snapshots[uri]
        assert full is not partial and full.exact
        assert host.published[published:] == [(uri, 2)]

    _run(tmp_path, scenario)


def test_the_full_check_runs_once_typing_pauses(tmp_path: Path, monkeypatch: Any) -> None:
    from gradguard.lsp import scheduler

    monkeypatch.setattr(scheduler, "FULL_CHECK_IDLE_S", 0.05)

    async def scenario(workspace: Workspace, host: FakeHost, _resolver: FakeResolver) -> None:
        text = _long_script()
        uri = host.open("train.py", text)
        await workspace.refresh(uri)
        host.open("train.py", _edited(text), 2)
        workspace.schedule(uri, 0)
        for _ in range(250):  # the edit's analysis, the pause, the full check
            await asyncio.sleep(0.02)
            snapshot = workspace.snapshots.get(uri)
            if snapshot is not None and snapshot.version == (2,) and snapshot.exact:
                break
        snapshot = workspace.snapshots[uri]
        assert snapshot.version == (2,) and snapshot.exact
        assert uri not in workspace.scheduler.full_checks

    _run(tmp_path, scenario)


def test_incremental_false_analyses_the_whole_file_on_every_edit(tmp_path: Path) -> None:
    from gradguard.lsp.settings import Settings

    async def scenario(workspace: Workspace, host: FakeHost, _resolver: FakeResolver) -> None:
        workspace.config.init_settings = Settings(incremental=False)
        uri, _, _, snapshot = await _open_then_edit(workspace, host, incremental=False)
        assert snapshot.kept.facts is not None
        assert uri not in workspace.scheduler.full_checks

    _run(tmp_path, scenario)


def test_after_an_answer_the_next_analysis_builds_on_the_last_one(tmp_path: Path) -> None:
    # Only the units using the answered name are analysed again (gradguard.incremental).
    async def scenario(workspace: Workspace, host: FakeHost, _resolver: FakeResolver) -> None:
        uri = host.open("train_net.py", USES_NET)
        first = await workspace.refresh(uri)
        assert first is not None and first.kept.baseline is not None
        workspace.answers.answered = {"mypkg.models.Net"}
        workspace.answers.refresh_answered()
        request = workspace.make_request(uri)
        assert request is not None and request.baseline is first.kept.baseline
        assert request.answered == {"mypkg.models.Net"}

        workspace.answers.answered = {"*"}  # an answer about no particular name
        workspace.answers.refresh_answered()
        request = workspace.make_request(uri)
        assert request is not None and request.baseline is None

    _run(tmp_path, scenario)


def test_a_full_check_is_abandoned_when_the_user_types_again(tmp_path: Path) -> None:
    from gradguard.lsp.worker import run_analysis

    async def scenario(workspace: Workspace, host: FakeHost, _resolver: FakeResolver) -> None:
        uri, text, _, partial = await _open_then_edit(workspace, host)
        request = workspace.make_request(uri, full=True)
        assert request is not None
        assert run_analysis(request, lambda: True) is None  # stopped before any rule

        started = asyncio.Event()
        real = workspace.analyse

        async def analyse_then_type(key: str, request: Any, cancelled: Any = None) -> Any:
            started.set()
            host.open("train.py", _edited(text) + "\n", 3)
            workspace.changed(uri)  # what didChange does (through schedule when pushing)
            assert cancelled is not None and cancelled()
            return await real(key, request, cancelled)

        workspace.analyse = analyse_then_type  # type: ignore[method-assign]
        await workspace.check_in_full(uri)
        assert started.is_set()
        assert workspace.snapshots[uri] is partial  # the abandoned check changed nothing
        assert uri not in workspace.scheduler.checks_running

    _run(tmp_path, scenario)


def test_findings_carried_over_reuse_their_diagnostics_with_the_new_version(
    tmp_path: Path,
) -> None:
    async def scenario(workspace: Workspace, host: FakeHost, _resolver: FakeResolver) -> None:
        uri, _, _, partial = await _open_then_edit(workspace, host)
        reused = workspace.converted.before(uri)  # the first version's, as it was published
        assert reused  # handed over from the previous version
        published = workspace.converted.diagnostics(partial)[uri]
        fresh = diagnostics_of(partial, {})[0][uri]
        assert published == fresh  # the same as converting everything again
        assert {d.data["version"] for d in published} == {2}
        carried = [f for f in partial.result.findings if id(f) in reused]
        assert len(carried) > len(partial.result.findings) // 2

    _run(tmp_path, scenario)
