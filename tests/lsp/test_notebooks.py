"""Notebook documents: cells analysed together, results mapped back to cells."""

from __future__ import annotations

import asyncio

import pytest
from lsp_helpers import (
    apply_utf16_edits,
    codes,
    range_text,
    wait_for,
    wait_published,
)
from lsprotocol import types
from pytest_lsp import LanguageClient

from gradguard.rules import get_rule

pytestmark = pytest.mark.asyncio(loop_scope="session")

CELLS = [
    "import torch\nfrom torch import nn\n\n"
    "model = nn.Sequential(nn.Linear(4, 8), nn.ReLU())\n%matplotlib inline",
    "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)",
    "model[0] = nn.Linear(4, 8)\nmodel.fc = nn.Linear(8, 2)",
    "for step in range(3):\n    optimizer.zero_grad()\n"
    "    model(torch.randn(2, 4)).sum().backward()\n    optimizer.step()",
]


@pytest.fixture(scope="module")
def root(shared_root):
    return shared_root


@pytest.fixture
def client(shared_client: LanguageClient) -> LanguageClient:
    return shared_client


class Notebook:
    def __init__(self, client: LanguageClient, path, cells: list[str]) -> None:
        self.client = client
        self.uri = path.as_uri()
        self.version = 1
        self.cells = {f"vscode-notebook-cell:{path}#cell{i}": text for i, text in enumerate(cells)}
        self.cell_versions = dict.fromkeys(self.cells, 1)
        self.order = list(self.cells)

    def cell_uri(self, index: int) -> str:
        return self.order[index]

    def open(self) -> Notebook:
        self.client.notebook_document_did_open(
            types.DidOpenNotebookDocumentParams(
                notebook_document=types.NotebookDocument(
                    uri=self.uri,
                    notebook_type="jupyter-notebook",
                    version=self.version,
                    cells=[
                        types.NotebookCell(kind=types.NotebookCellKind.Code, document=uri)
                        for uri in self.order
                    ],
                ),
                cell_text_documents=[
                    types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
                    for uri, text in self.cells.items()
                ],
            )
        )
        return self

    def edit_cell(self, uri: str, edits: list[types.TextEdit]) -> None:
        ordered = sorted(
            edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
        )
        for edit in ordered:
            self.cells[uri] = apply_utf16_edits(self.cells[uri], [edit])
        self.version += 1
        self.cell_versions[uri] += 1
        self.client.notebook_document_did_change(
            types.DidChangeNotebookDocumentParams(
                notebook_document=types.VersionedNotebookDocumentIdentifier(
                    version=self.version, uri=self.uri
                ),
                change=types.NotebookDocumentChangeEvent(
                    cells=types.NotebookDocumentCellChanges(
                        text_content=[
                            types.NotebookDocumentCellContentChanges(
                                document=types.VersionedTextDocumentIdentifier(
                                    uri=uri, version=self.cell_versions[uri]
                                ),
                                changes=[
                                    types.TextDocumentContentChangePartial(
                                        range=e.range, text=e.new_text
                                    )
                                    for e in ordered
                                ],
                            )
                        ]
                    )
                ),
            )
        )

    def delete_cell(self, index: int) -> str:
        uri = self.order.pop(index)
        self.version += 1
        self.client.notebook_document_did_change(
            types.DidChangeNotebookDocumentParams(
                notebook_document=types.VersionedNotebookDocumentIdentifier(
                    version=self.version, uri=self.uri
                ),
                change=types.NotebookDocumentChangeEvent(
                    cells=types.NotebookDocumentCellChanges(
                        structure=types.NotebookDocumentCellChangeStructure(
                            array=types.NotebookCellArrayChange(
                                start=index, delete_count=1, cells=[]
                            ),
                            did_close=[types.TextDocumentIdentifier(uri=uri)],
                        )
                    )
                ),
            )
        )
        return uri

    def close(self) -> None:
        self.client.notebook_document_did_close(
            types.DidCloseNotebookDocumentParams(
                notebook_document=types.NotebookDocumentIdentifier(uri=self.uri),
                cell_text_documents=[types.TextDocumentIdentifier(uri=u) for u in self.order],
            )
        )

    async def diagnostics(self, index: int) -> list[types.Diagnostic]:
        uri = self.cell_uri(index)
        return await wait_published(self.client, uri, self.cell_versions[uri])


def needs_gg102() -> None:
    if get_rule("GG102") is None:
        pytest.skip("GG102 is not in the engine yet")


async def test_cells_are_one_program(client: LanguageClient, root):
    needs_gg102()
    notebook = Notebook(client, root / "train.ipynb", CELLS).open()
    assert await notebook.diagnostics(0) == []
    assert await notebook.diagnostics(1) == []
    stale = [d for d in await notebook.diagnostics(2) if d.code == "GG102"]
    assert stale, "a layer replaced in cell 3 after the optimizer of cell 2 is a GG102 in cell 3"
    texts = [range_text(notebook.cells[notebook.cell_uri(2)], d.range) for d in stale]
    assert "model.fc = nn.Linear(8, 2)" in texts or "model[0] = nn.Linear(4, 8)" in texts
    for diagnostic in stale:
        (related,) = diagnostic.related_information
        assert related.location.uri == notebook.cell_uri(1)
        assert related.location.range.start.line == 0
    assert await notebook.diagnostics(3) == []
    notebook.close()


async def test_hover_in_a_cell(client: LanguageClient, root):
    needs_gg102()
    notebook = Notebook(client, root / "hover.ipynb", CELLS).open()
    stale = [d for d in await notebook.diagnostics(2) if d.code == "GG102"]
    uri = notebook.cell_uri(3)
    line = notebook.cells[uri].splitlines().index("    optimizer.step()")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=6),
        )
    )
    text = hover.contents.value
    assert "built at cell 2, line 1 from `model.parameters()`" in text
    assert "replaced at cell 3, line" in text and "is not in it" in text
    assert hover.range.start == types.Position(line=line, character=4)
    # A hover on the finding itself, in cell 3.
    finding_hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=notebook.cell_uri(2)),
            position=stale[0].range.start,
        )
    )
    assert "stale-optimizer" in finding_hover.contents.value
    assert finding_hover.range == stale[0].range
    notebook.close()


async def quick_fixes(notebook: Notebook, index: int, diagnostic: types.Diagnostic) -> list:
    return await notebook.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=notebook.cell_uri(index)),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic], only=["quickfix"]),
        )
    )


async def test_fix_in_a_notebook_edits_the_right_cells(client: LanguageClient, root):
    needs_gg102()
    cells = [CELLS[0], CELLS[1], "model.fc = nn.Linear(8, 2)", CELLS[3]]
    notebook = Notebook(client, root / "fix.ipynb", cells).open()
    (stale,) = [d for d in await notebook.diagnostics(2) if d.code == "GG102"]
    result = await quick_fixes(notebook, 2, stale)
    (reorder,) = [a for a in result if "Move the optimizer creation" in a.title]
    touched = [change.text_document.uri for change in reorder.edit.document_changes]
    assert notebook.cell_uri(1) in touched
    for change in reorder.edit.document_changes:
        assert change.text_document.version == notebook.cell_versions[change.text_document.uri]
        notebook.edit_cell(change.text_document.uri, list(change.edits))
    program = "\n".join(notebook.cells[u] for u in notebook.order)
    assert program.index("model.fc = nn.Linear(8, 2)") < program.index("optimizer = torch.optim")
    uri = notebook.cell_uri(2)
    await wait_for(
        lambda: (
            all(
                "GG102" not in codes(list(p.diagnostics))
                for p in client.recorder.published.get(uri, [])[-1:]
            )
            and client.recorder.published[notebook.cell_uri(1)][-1].version
            == notebook.cell_versions[notebook.cell_uri(1)]
        )
    )
    for index in range(4):
        assert "GG102" not in codes(await notebook.diagnostics(index))
    notebook.close()


async def test_deleted_cells_are_cleared(client: LanguageClient, root):
    needs_gg102()
    notebook = Notebook(client, root / "delete.ipynb", CELLS).open()
    assert any(d.code == "GG102" for d in await notebook.diagnostics(2))
    removed = notebook.delete_cell(2)
    await wait_for(lambda: list(client.recorder.published[removed][-1].diagnostics) == [])
    await asyncio.sleep(0.2)
    for index in range(3):
        assert "GG102" not in codes(list(client.diagnostics.get(notebook.cell_uri(index), [])))
    notebook.close()
    await asyncio.sleep(0.1)
    for uri in notebook.order:
        assert list(client.diagnostics[uri]) == []


MISSPELLED_INIT = (
    "class {name}(nn.Module):\n    def _init_(self):\n        super().__init__()\n"
    "        self.fc = nn.Linear(4, 2)\n"
)


async def test_notebook_fix_all_fixes_every_cell(client: LanguageClient, root):
    """notebook.source.fixAll.gradguard (VS Code's notebook.codeActionsOnSave): one
    action whose edit covers every code cell; applied, the findings are gone."""
    cells = [
        "import torch\nfrom torch import nn",
        MISSPELLED_INIT.format(name="Encoder"),
        MISSPELLED_INIT.format(name="Decoder"),
    ]
    notebook = Notebook(client, root / "fix_all.ipynb", cells).open()
    for index in (1, 2):
        assert codes(await notebook.diagnostics(index)) == ["GG204"]

    async def actions(only: list[str] | None) -> list[types.CodeAction]:
        result = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=notebook.cell_uri(0)),
                range=types.Range(types.Position(0, 0), types.Position(0, 0)),
                context=types.CodeActionContext(diagnostics=[], only=only),
            )
        )
        return [a for a in result or [] if isinstance(a, types.CodeAction)]

    kinds = [a.kind for a in await actions(None) + await actions(["source.fixAll"])]
    assert "notebook.source.fixAll.gradguard" not in kinds  # only when asked for
    (whole,) = await actions(["notebook.source.fixAll"])
    assert whole.kind == "notebook.source.fixAll.gradguard"
    touched = {change.text_document.uri for change in whole.edit.document_changes}
    assert touched == {notebook.cell_uri(1), notebook.cell_uri(2)}
    for change in whole.edit.document_changes:
        assert change.text_document.version == notebook.cell_versions[change.text_document.uri]
        notebook.edit_cell(change.text_document.uri, list(change.edits))
    for index in (1, 2):
        assert "def __init__(self):" in notebook.cells[notebook.cell_uri(index)]
        assert compile(notebook.cells[notebook.cell_uri(index)], "cell", "exec")
    for index in (1, 2):
        await wait_for(lambda i=index: codes(current_cell(client, notebook, i)) == [])
    notebook.close()


async def test_fix_of_a_cells_last_line_adds_no_line_break(client: LanguageClient, root):
    """VS Code's cell documents end without a line break; the joined program's one after
    the cell is not the cell's, so a fix rewriting the last line must not add it."""
    cells = ["import torch", "w = torch.randn(3, requires_grad=True)\nw.grad.zero_()"]
    notebook = Notebook(client, root / "last_line.ipynb", cells).open()
    (finding,) = await notebook.diagnostics(1)
    result = await quick_fixes(notebook, 1, finding)
    (guard,) = [a for a in result if "if w.grad is not None" in a.title]
    for change in guard.edit.document_changes:
        notebook.edit_cell(change.text_document.uri, list(change.edits))
    fixed = notebook.cells[notebook.cell_uri(1)]
    assert fixed == (
        "w = torch.randn(3, requires_grad=True)\nif w.grad is not None:\n    w.grad.zero_()"
    )
    await wait_for(lambda: codes(current_cell(client, notebook, 1)) == [])
    notebook.close()


def current_cell(client: LanguageClient, notebook: Notebook, index: int) -> list:
    published = client.recorder.published.get(notebook.cell_uri(index), [])
    return list(published[-1].diagnostics) if published else []


async def test_magic_cells_do_not_blank_the_notebook(client: LanguageClient, root):
    """A %%bash cell, ``model?``, ``!pip`` and ``%%writefile`` used to make the joined
    program a syntax error, so every cell showed nothing."""
    needs_gg102()
    cells = [
        "!pip install torch --quiet\n" + CELLS[0],
        "%%bash\nnvidia-smi | head -n 5\nif [ -d data ]; then echo ok; fi",
        CELLS[1] + "\nmodel?",
        "%%writefile config.yaml\nlr: 0.1\nlayers: [4, 8]",
        "%%time\n" + CELLS[2],
        CELLS[3],
    ]
    notebook = Notebook(client, root / "magics.ipynb", cells).open()
    stale = [d for d in await notebook.diagnostics(4) if d.code == "GG102"]
    assert stale, "the layer replaced in the %%time cell is still reported"
    # Positions are the cell's own: the replaced layer is on line 1 or 2 (after %%time).
    texts = {range_text(notebook.cells[notebook.cell_uri(4)], d.range) for d in stale}
    assert texts & {"model.fc = nn.Linear(8, 2)", "model[0] = nn.Linear(4, 8)"}
    for index in (0, 1, 2, 3, 5):
        assert await notebook.diagnostics(index) == []
    notebook.close()
