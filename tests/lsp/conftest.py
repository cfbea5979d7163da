"""One push-mode server shared by the diagnostics, actions, hover and notebook tests
(starting a server costs more than most tests); modules that change settings or
need other client capabilities start their own."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsp_helpers import CONFIG, initialize
from pytest_lsp import LanguageClient


@pytest.fixture(scope="session")
def shared_root(tmp_path_factory):
    return tmp_path_factory.mktemp("shared")


@pytest_lsp.fixture(config=CONFIG, scope="session")
async def shared_client(lsp_client: LanguageClient, shared_root):
    lsp_client.set_configuration({"debounceMs": 20}, section="gradguard")
    await initialize(lsp_client, shared_root)
    yield
    await lsp_client.shutdown_session()
