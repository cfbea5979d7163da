"""The shape programs of tests/test_shapes.py through the language server: every open program
gets the diagnostics the CLI reports for it (the same lines and codes)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import Counter

import pytest
import pytest_lsp
from lsp_helpers import CONFIG, Doc, initialize
from pytest_lsp import LanguageClient

from test_shapes import PROGRAMS, SHAPES, check

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes-lsp") / "programs"
    shutil.copytree(SHAPES, folder)
    return folder


@pytest.fixture(scope="module")
def cli_findings(programs):
    return check(programs)


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, programs):
    lsp_client.set_configuration({"debounceMs": 0}, section="gradguard")
    await initialize(lsp_client, programs)
    yield
    await lsp_client.shutdown_session()


async def test_the_language_server_agrees_with_the_cli(client, programs, cli_findings):
    docs = {
        name: Doc(client, programs / name, (programs / name).read_text()).open()
        for name in PROGRAMS
    }
    for doc in docs.values():
        await doc.diagnostics(timeout=60)

    def published() -> dict[str, Counter[tuple[int, str]]]:
        return {
            name: Counter(
                (d.range.start.line + 1, str(d.code)) for d in client.diagnostics.get(doc.uri, [])
            )
            for name, doc in docs.items()
        }

    # The server may publish before jedi's answers (and other modules' summaries) arrive, then
    # again: give it time to settle (generously: a loaded CI machine analyses 43 files slowly).
    deadline = time.monotonic() + 180
    while published() != cli_findings and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert published() == cli_findings
