"""gradguard.notebook: reading and writing .ipynb text, and the IPython masking."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradguard.notebook import NotebookError, mask_cell, parse_notebook


def test_unchanged_sources_give_the_same_bytes_back():
    text = '{"cells":[{"cell_type":"code","source":"x = 1"}],\r\n "metadata":{}}'
    notebook = parse_notebook(text)
    assert notebook.with_sources(notebook.sources) == text


def test_changed_source_keeps_the_style_of_the_file():
    compact = '{"cells": [{"source": ["a\\n", "b"], "cell_type": "code"}], "nbformat": 4}'
    notebook = parse_notebook(compact)
    assert notebook.with_sources({"1": "a\nc"}) == compact.replace('"b"', '"c"')
    escaped = '{"cells": [{"cell_type": "code", "source": "\\u00e9 = 1"}]}'
    notebook = parse_notebook(escaped)
    assert notebook.sources == {"1": "é = 1"}
    assert notebook.with_sources({"1": "é = 2"}) == escaped.replace("1", "2")  # stays escaped


def test_empty_source_list_gets_the_cell_indentation():
    text = '{\n "cells": [\n  {\n   "cell_type": "code",\n   "source": []\n  }\n ]\n}\n'
    notebook = parse_notebook(text)
    new = notebook.with_sources({"1": "x = 1\ny = 2"})
    assert '   "source": [\n    "x = 1\\n",\n    "y = 2"\n   ]\n' in new
    assert json.loads(new)["cells"][0]["source"] == ["x = 1\n", "y = 2"]


def test_duplicate_keys_follow_json_loads():
    text = '{"cells": [], "cells": [{"cell_type": "code", "source": "x", "source": "y"}]}'
    notebook = parse_notebook(text)
    assert notebook.sources == {"1": "y"}
    assert json.loads(notebook.with_sources({"1": "z"}))["cells"][0]["source"] == "z"


@pytest.mark.parametrize(
    "text",
    ["", "[]", '{"cells": {}}', '{"cells": [', "{'cells': []}", '{"nbformat": 4}'],
)
def test_not_a_notebook_is_a_clear_error(text):
    with pytest.raises(NotebookError, match="not a valid notebook"):
        parse_notebook(text)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
_cell = st.fixed_dictionaries(
    {"cell_type": st.sampled_from(["code", "markdown", 3])},
    optional={"source": st.text(max_size=20) | st.lists(st.text(max_size=8), max_size=3) | _json},
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_cell | _json, max_size=4), st.integers(0, 2), st.booleans())
def test_any_json_reads_or_fails_cleanly_and_round_trips(cells, indent, ascii_only):
    text = json.dumps({"cells": cells}, indent=indent or None, ensure_ascii=ascii_only)
    notebook = parse_notebook(text)
    assert notebook.with_sources(notebook.sources) == text
    changed = {key: source + "\n# edited" for key, source in notebook.sources.items()}
    data = json.loads(notebook.with_sources(changed))
    for key, source in changed.items():
        written = data["cells"][int(key) - 1]["source"]
        assert ("".join(written) if isinstance(written, list) else written) == source


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["x = 1", "  y = f(", '"""', "z?", "%time g()", "!ls", ")", "# c?", "\\"]),
        max_size=8,
    )
)
def test_masking_never_changes_the_line_count(lines):
    text = "\n".join(lines)
    masked, masked_lines = mask_cell(text)
    assert len(masked) == len(text.split("\n"))
    assert all(masked[i] == lines[i] for i in range(len(lines)) if i not in masked_lines)


def test_edits_never_land_on_masked_lines():
    from gradguard.findings import Position, Span, TextEdit
    from gradguard.notebook import edit_cells, join_cells

    joined = join_cells([("1", "import torch\n%time x = 1\ny = 2"), ("2", "!ls")])
    masked_line = Span(Position(1, 0), Position(1, 4))  # "pass" in the program
    assert joined.to_cell(masked_line) is not None  # diagnostics may still be placed
    assert joined.to_cell(masked_line, editable=True) is None
    # A whole-line edit of the line above ends at column 0 of the masked line: allowed.
    above = Span(Position(0, 0), Position(1, 0))
    assert joined.to_cell(above, editable=True) is not None
    sources = {"1": "import torch\n%time x = 1\ny = 2", "2": "!ls"}
    assert edit_cells(joined, sources, [TextEdit(masked_line, "del x")]) is None
    moved = edit_cells(joined, sources, [TextEdit(Span(Position(2, 0), Position(2, 1)), "z")])
    assert moved == {"1": "import torch\n%time x = 1\nz = 2", "2": "!ls"}
