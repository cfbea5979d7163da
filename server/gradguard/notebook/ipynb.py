"""The ``.ipynb`` file (nbformat 4): its code cells' sources, and writing them back.

Fixes are written back into the code cells' ``source`` only: the notebook's JSON is
rewritten at those spans and every other byte (outputs, metadata, indentation, key
order) is kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from gradguard.notebook.cells import JoinedCells, join_cells

NOTEBOOK_SUFFIX = ".ipynb"


class NotebookError(ValueError):
    """The file is not a notebook this module can read (the message says why)."""


@dataclass(frozen=True)
class Notebook:
    raw: str  # the file's text (a UTF-8 BOM is kept in ``prefix``)
    prefix: str
    # Code cells: key (the 1-based cell number, as text) -> source.
    sources: dict[str, str]
    # Where each code cell's ``source`` value is in ``raw`` and whether it is a list.
    spans: dict[str, tuple[int, int, bool]]

    def joined(self) -> JoinedCells:
        return join_cells(list(self.sources.items()))

    def with_sources(self, sources: dict[str, str]) -> str:
        """The file's text with changed cell sources; every other byte as it was."""
        pieces, cursor = [self.prefix], 0
        for key, (start, end, as_list) in sorted(self.spans.items(), key=lambda i: i[1][0]):
            if sources[key] == self.sources[key]:
                continue
            pieces.append(self.raw[cursor:start])
            pieces.append(self._render(sources[key], start, end, as_list))
            cursor = end
        pieces.append(self.raw[cursor:])
        return "".join(pieces)

    def _render(self, source: str, start: int, end: int, as_list: bool) -> str:
        ascii_only = self.raw.isascii() and "\\u" in self.raw

        def dump(text: str) -> str:
            return json.dumps(text, ensure_ascii=ascii_only)

        if not as_list:
            return dump(source)
        lines = source.splitlines(keepends=True)
        if not lines:
            return "[]"
        lead, separator, tail = self._list_layout(start, end)
        return "[" + lead + separator.join(dump(line) for line in lines) + tail + "]"

    def _list_layout(self, start: int, end: int) -> tuple[str, str, str]:
        """The whitespace after ``[``, between elements and before ``]`` of the list at
        ``raw[start:end]`` (for an empty list: what an indented file would use)."""
        elements = _elements(self.raw, start)
        if not elements:
            if "\n" not in self.raw.strip():
                return "", ", ", ""
            indent = _indentation_at(self.raw, start)
            return f"\n{indent} ", f",\n{indent} ", f"\n{indent}"
        lead = self.raw[start + 1 : elements[0][0]]
        tail = self.raw[elements[-1][1] : end - 1]
        if len(elements) > 1:
            separator = self.raw[elements[0][1] : elements[1][0]]
        else:
            separator = "," + lead if "\n" in lead else ", "
        return lead, separator, tail


def _indentation_at(raw: str, index: int) -> str:
    """The indentation of the line holding ``raw[index]``."""
    line = raw[raw.rfind("\n", 0, index) + 1 : index]
    return line[: len(line) - len(line.lstrip(" \t"))]


def parse_notebook(text: str) -> Notebook:
    """Read an nbformat 4 notebook; raises NotebookError with a message for the user."""
    prefix = "\ufeff" if text.startswith("\ufeff") else ""
    raw = text[len(prefix) :]
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise NotebookError(
            f"{error.lineno}:{error.colno}: not a valid notebook: invalid JSON ({error.msg})"
        ) from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise NotebookError("1:1: not a valid notebook: no `cells` list (nbformat 4 expected)")
    if _language(data) not in ("python", None):
        raise NotebookError(f"1:1: notebook skipped: its language is {_language(data)}, not Python")
    sources: dict[str, str] = {}
    spans: dict[str, tuple[int, int, bool]] = {}
    for number, (cell, span) in enumerate(zip(cells, _cell_source_spans(raw), strict=False), 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or span is None:
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            continue
        sources[str(number)] = source
        spans[str(number)] = (span[0], span[1], raw[span[0]] == "[")
    return Notebook(raw, prefix, sources, spans)


def _language(data: dict) -> str | None:
    metadata = data.get("metadata")
    info = metadata.get("language_info") if isinstance(metadata, dict) else None
    name = info.get("name") if isinstance(info, dict) else None
    return name.lower() if isinstance(name, str) else None


# A scanner of JSON text that reports where values are, which ``json`` does not.
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip(raw: str, index: int) -> int:
    match = _WHITESPACE.match(raw, index)
    return match.end() if match else index


def _members(raw: str, index: int) -> list[tuple[str, int, int]]:
    """(key, value start, value end) of the object starting at ``raw[index]``."""
    found: list[tuple[str, int, int]] = []
    index = _skip(raw, index + 1)
    while raw[index] == '"':
        key, index = json.decoder.scanstring(raw, index + 1)  # type: ignore[attr-defined]
        index = _skip(raw, _skip(raw, index) + 1)  # past the colon
        end = _DECODER.raw_decode(raw, index)[1]
        found.append((key, index, end))
        index = _skip(raw, end)
        if raw[index] == ",":
            index = _skip(raw, index + 1)
    return found


def _elements(raw: str, index: int) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    index = _skip(raw, index + 1)
    while raw[index] != "]":
        end = _DECODER.raw_decode(raw, index)[1]
        found.append((index, end))
        index = _skip(raw, end)
        if raw[index] == ",":
            index = _skip(raw, index + 1)
    return found


def _cell_source_spans(raw: str) -> list[tuple[int, int] | None]:
    start = _skip(raw, 0)
    found = [m for m in _members(raw, start) if m[0] == "cells"]
    if not found:
        return []
    cells = found[-1]  # as json.loads, the last of duplicate keys wins
    spans: list[tuple[int, int] | None] = []
    for cell_start, _ in _elements(raw, cells[1]):
        if raw[cell_start] != "{":
            spans.append(None)
            continue
        source = [m for m in _members(raw, cell_start) if m[0] == "source"]
        spans.append((source[-1][1], source[-1][2]) if source else None)
    return spans
