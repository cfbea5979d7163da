"""In the editor, a trainer class of another workspace module (``from trainer import
Finetuner``, whose ``__init__`` builds the optimizer) is summarised in the background: the
script's replacement of ``tuner.model.fc`` is reported once the summary is known, and
saving ``trainer.py`` so that ``fit()`` builds the optimizer again clears it."""

from __future__ import annotations

import pytest
from lsp_helpers import Doc, codes, wait_for
from pytest_lsp import LanguageClient

from test_cli_workspace_classes import SCRIPT, TRAINER

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def client(shared_client: LanguageClient) -> LanguageClient:
    return shared_client


async def test_a_trainer_class_of_another_module_is_followed_once_summarised(
    client: LanguageClient, shared_root
):
    folder = shared_root / "trainer_classes"
    folder.mkdir()
    (folder / "trainer.py").write_text(TRAINER)
    doc = Doc(client, folder / "train.py", SCRIPT).open()

    def published() -> list[str]:
        history = client.recorder.published.get(doc.uri, [])  # type: ignore[attr-defined]
        return codes(history[-1].diagnostics) if history else []

    await wait_for(lambda: published() == ["GG102"], timeout=30)
    diagnostic = client.recorder.published[doc.uri][-1].diagnostics[0]  # type: ignore[attr-defined]
    assert diagnostic.range.start.line == SCRIPT.splitlines().index("tuner.replace_head(4)")
    assert diagnostic.message.startswith(
        "`tuner.replace_head()` replaces `tuner.model.fc` (trainer_classes/trainer.py line 10)"
    )
    # fit() now builds the optimizer from the model as it is: nothing is stale.
    rebuild = "        self.optimizer = optim.AdamW(self.model.parameters())\n"
    fixed = TRAINER.replace(
        "        for x, y in loader:\n", rebuild + "        for x, y in loader:\n"
    )
    helper = Doc(client, folder / "trainer.py", TRAINER).open()
    helper.replace_all(fixed)
    (folder / "trainer.py").write_text(helper.text)  # what the editor writes on save
    helper.save()
    await wait_for(lambda: published() == [], timeout=30)
    helper.close()
    doc.close()
