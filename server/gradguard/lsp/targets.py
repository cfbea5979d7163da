"""What is open: the targets of analysis, their text, versions and views.

A *target* is a text document, or a notebook (all its Python code cells joined
into one program, :mod:`gradguard.lsp.notebooks`). Its text is read from the
host (pygls' workspace) into an immutable :class:`TargetText`, the part of an
analysis that describes *what* was analysed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path, uri_scheme

from gradguard.lsp.notebooks import NotebookProgram, build_program
from gradguard.source import SourceFile

#: A target's version: ``(document version,)``, or for a notebook its version, each
#: code cell's version and the number of cells.
VersionKey = tuple[Any, ...]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class View:
    """One client document of a target: a text document or a notebook cell."""

    uri: str
    version: int | None
    lines: list[str]


@dataclass(frozen=True)
class TargetText:
    """A target's text as one version of it was read."""

    key: str  # document uri, or notebook uri
    version: VersionKey
    text: str  # what is analysed (the joined cells of a notebook)
    path: str
    views: dict[str, View]
    notebook: NotebookProgram | None = None
    #: Said once per document: the text had to be repaired to be analysed.
    notice: str | None = None


def uri_to_path(uri: str) -> str:
    if uri_scheme(uri) == "file":
        return to_fs_path(uri) or uri
    return uri


def readable_text(text: str, path: str) -> tuple[str, str | None]:
    """The text to analyse and, when it is not, a notice. A client may send lone
    UTF-16 surrogates (``\\ud800`` in JSON), which no Python parser accepts: each is
    analysed as U+FFFD, one code point and one UTF-16 unit like it, so every position
    stays right (the CLI, reading bytes, reports such a file instead)."""
    found = _LONE_SURROGATE.search(text)
    if found is None:
        return text, None
    line = text.count("\n", 0, found.start()) + 1
    notice = (
        f"{path}:{line}: U+{ord(found.group()):04X} is a lone surrogate, not a character; "
        "analysed as if each such code were U+FFFD (fixes that would rewrite one are not offered)"
    )
    return _LONE_SURROGATE.sub("\ufffd", text), notice


def target_of(host: Any, uri: str) -> str:
    """The target a client document belongs to (a cell belongs to its notebook)."""
    notebook = host.notebook_of_cell(uri)
    return notebook.uri if notebook is not None else uri


def open_targets(host: Any) -> Iterator[str]:
    seen = set()
    for uri in host.text_document_uris():
        key = target_of(host, uri)
        if key not in seen:
            seen.add(key)
            yield key


def code_cells(host: Any, notebook: types.NotebookDocument) -> list[tuple[str, Any]]:
    """(uri, text document) of the notebook's Python code cells, in order."""
    cells = []
    for cell in notebook.cells:
        if cell.kind != types.NotebookCellKind.Code:
            continue
        document = host.text_document(cell.document)
        if document is None or (document.language_id or "python") != "python":
            continue
        cells.append((cell.document, document))
    return cells


def current_version(host: Any, key: str) -> VersionKey | None:
    notebook = host.notebook(key)
    if notebook is not None:
        versions = [doc.version or 0 for _, doc in code_cells(host, notebook)]
        return (notebook.version, *versions, len(versions))
    document = host.text_document(key)
    return (document.version,) if document is not None else None


def read(host: Any, key: str) -> TargetText | None:
    """The target's current text, or None when it is not open."""
    path = uri_to_path(key)
    notebook = host.notebook(key)
    if notebook is not None:
        cells = code_cells(host, notebook)
        program = build_program([(uri, doc.version or 0, doc.source) for uri, doc in cells])
        text, notice = readable_text(program.text, path)
        views = {uri: View(uri, doc.version, SourceFile(doc.source).lines) for uri, doc in cells}
        version = (notebook.version, *(doc.version or 0 for _, doc in cells), len(cells))
        return TargetText(key, version, text, path, views, program, notice)
    document = host.text_document(key)
    if document is None:
        return None
    text, notice = readable_text(document.source, path)
    views = {key: View(key, document.version, SourceFile(text).lines)}
    return TargetText(key, (document.version,), text, path, views, None, notice)
