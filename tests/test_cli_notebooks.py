"""Notebooks through the command line: discovery, IPython masking, cell positions,
--fix/--diff that change only code cells' sources."""

from __future__ import annotations

import ast
import json

import pytest

from gradguard.cli import main
from gradguard.notebook import join_cells, mask_cell, parse_notebook
from test_cli import run

TRAINER_CELL = (
    "!pip install torch --quiet\n%matplotlib inline\nimport torch\nfrom torch import nn\n\n"
    "class Net(nn.Module):\n    def _init_(self):\n        super().__init__()\n"
    "        self.fc = nn.Linear(2, 2)"
)
CELLS = [
    ("markdown", "# Training a net\n"),
    ("code", TRAINER_CELL),
    ("code", "%%bash\nnvidia-smi | head -n 5\nif [ -d data ]; then echo ok; fi"),
    ("code", "model = Net()\nmodel?\nfiles = !ls data"),
    ("code", "%%writefile config.yaml\nlr: 0.1"),
]


def notebook_text(cells=CELLS) -> str:
    """As Jupyter writes it: indent 1, non-ASCII kept, outputs and metadata present."""
    notebook = {"cells": [], "metadata": {"language_info": {"name": "python"}}}
    for kind, source in cells:
        cell = {"cell_type": kind, "metadata": {"tags": ["x"]}}
        if kind == "code":
            cell["execution_count"] = 3
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["héllo\n"]}]
        cell["source"] = source.splitlines(keepends=True)
        notebook["cells"].append(cell)
    notebook.update(nbformat=4, nbformat_minor=5)
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.ipynb").write_text(notebook_text(), encoding="utf-8")
    return tmp_path


def test_notebook_with_magics_reports_in_cell_coordinates(project, capsys):
    code, out, err = run(capsys, ".")  # found by the directory walk
    assert code == 1
    assert out.startswith("train.ipynb:cell 2:7:9: GG204 [misspelled-init] ")
    assert out.count("\n") == 1 and err.startswith("Found 1 finding")


def test_notebook_json_and_sarif_carry_the_cell(project, capsys):
    _, out, _ = run(capsys, "--format", "json", "train.ipynb")
    (finding,) = json.loads(out)["findings"]
    assert finding["cell"] == 2 and finding["range"]["line"] == 7
    _, out, _ = run(capsys, "--format", "sarif", "train.ipynb")
    (result,) = json.loads(out)["runs"][0]["results"]
    assert result["properties"] == {"cell": 2}
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 7


def test_fix_changes_only_the_code_cell_source(project, capsys):
    before = (project / "train.ipynb").read_bytes()
    code, out, _ = run(capsys, "--diff", "train.ipynb")
    assert code == 1 and "+++ b/train.ipynb:cell 2" in out and "+    def __init__(self):" in out
    assert (project / "train.ipynb").read_bytes() == before  # --diff writes nothing
    assert run(capsys, "--fix", "train.ipynb")[0] == 0
    after = (project / "train.ipynb").read_bytes()
    # Exactly one line of the file changed, the one the fix edits.
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert changed == [(b'    "    def _init_(self):\\n",', b'    "    def __init__(self):\\n",')]
    # The fixed notebook parses, the finding is gone and nothing new appears.
    program = parse_notebook(after.decode()).joined().text
    ast.parse(program)
    assert run(capsys, "-q", "train.ipynb") == (0, "", "")


def test_invalid_notebook_is_a_per_file_error_and_the_run_goes_on(project, capsys):
    (project / "broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    (project / "buggy.py").write_text(
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def _init_(self):\n"
        "        super().__init__()\n"
    )
    code, out, _ = run(capsys, ".")
    assert code == 1
    assert "broken.ipynb:1:12: not a valid notebook: invalid JSON" in out
    assert "buggy.py:5:9: GG204" in out and "train.ipynb:cell 2:7:9: GG204" in out


def test_string_source_and_non_python_notebooks(project, capsys):
    data = json.loads(notebook_text())
    data["cells"][1]["source"] = TRAINER_CELL  # a single string is valid nbformat too
    (project / "train.ipynb").write_text(json.dumps(data), encoding="utf-8")
    assert run(capsys, "--fix", "train.ipynb")[0] == 0
    fixed = json.loads((project / "train.ipynb").read_text(encoding="utf-8"))
    assert fixed["cells"][1]["source"] == TRAINER_CELL.replace("_init_(self)", "__init__(self)")
    assert fixed["cells"][1]["outputs"] == data["cells"][1]["outputs"]
    data["metadata"]["language_info"]["name"] = "R"
    (project / "r.ipynb").write_text(json.dumps(data), encoding="utf-8")
    code, out, _ = run(capsys, "r.ipynb")
    assert code == 1 and "r.ipynb:1:1: notebook skipped: its language is r" in out


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("%%bash\necho hi", ["", ""]),  # another language: left out
        ("%%time\nx = 1", ["pass", "x = 1"]),  # Python under a timing magic: kept
        ("  %time f()\nx?\n??y", ["  pass", "pass", "pass"]),
        ("x = !ls\nfiles = %sx ls", ["x = None", "files = None"]),
        ("!pip install \\\n  torch", ["pass", ""]),  # the continuation goes too
        (
            's = """\n!not a shell escape\nwhat?\n"""',
            ['s = """', "!not a shell escape", "what?", '"""'],
        ),
        ("d = dict(\n  a=1,\n)\nd?", ["d = dict(", "  a=1,", ")", "pass"]),
        ("x = 1  # why?", ["x = 1  # why?"]),
    ],
)
def test_masking_keeps_python_and_line_numbers(cell, expected):
    lines, _masked = mask_cell(cell)
    assert lines == expected


def test_joined_cells_map_back_to_their_cell():
    joined = join_cells([("2", "import torch\n%time x = 1"), ("4", "%%bash\nls"), ("5", "y = 2")])
    assert joined.text == "import torch\npass\n\n\ny = 2\n"
    ast.parse(joined.text)
    assert joined.cell_at_line(4).key == "5" and joined.cell_at_line(1).masked == frozenset({1})


def test_syntax_error_in_a_cell_is_reported_in_cell_coordinates(project, capsys):
    cells = [("markdown", "# x"), ("code", "import torch"), ("code", "x = 1\ndef (:\n")]
    (project / "bad.ipynb").write_text(notebook_text(cells), encoding="utf-8")
    code, out, _ = run(capsys, "bad.ipynb")
    assert code == 1 and out.startswith("bad.ipynb:cell 3:2:5: syntax error")


def test_noqa_and_add_noqa_in_a_notebook(project, capsys):
    assert main(["check", "--no-resolve", "--add-noqa", "train.ipynb"]) == 0
    assert capsys.readouterr().err == "Added 1 noqa directive.\n"
    data = json.loads((project / "train.ipynb").read_text(encoding="utf-8"))
    assert "    def _init_(self):  # noqa: GG204\n" in data["cells"][1]["source"]
    assert run(capsys, "-q", "train.ipynb") == (0, "", "")
    source = "".join(data["cells"][1]["source"]).replace("# noqa: GG204", "# noqa: GG999")
    data["cells"][1]["source"] = source
    (project / "train.ipynb").write_text(json.dumps(data), encoding="utf-8")
    _, _, err = run(capsys, "train.ipynb")
    assert "train.ipynb:cell 2:7: unknown rule code GG999" in err


def test_notebook_from_stdin(project, capsys, monkeypatch):
    import io
    import sys

    text = (project / "train.ipynb").read_text(encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    code, out, _ = run(capsys, "--stdin-filename", "nb.ipynb")
    assert code == 1 and out.startswith("nb.ipynb:cell 2:7:9: GG204")


def test_notebook_sarif_validates(project, capsys):
    from test_cli_formats import validate

    _, out, _ = run(capsys, "--format", "sarif", ".")
    validate(json.loads(out))


def test_fixes_in_one_pass_keep_their_positions_across_cells(project, capsys):
    """An inserted line in cell 2 must not shift where cell 3's fix lands."""
    loop = (
        "import torch\nfrom torch import nn\n\nmodel = nn.Linear(4, 2)\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n\n"
        "def train_one_epoch(loader):\n    for x, y in loader:\n"
        "        loss = nn.functional.mse_loss(model(x), y)\n"
        "        loss.backward()\n        optimizer.step()"
    )
    net = "class Net(nn.Module):\n    def _init_(self):\n        super().__init__()"
    cells = [("markdown", "# two fixes"), ("code", loop), ("code", net)]
    (project / "train.ipynb").write_text(notebook_text(cells), encoding="utf-8")
    code, out, _ = run(capsys, "-q", "train.ipynb")
    assert code == 1 and {line.split(": ")[1].split()[0] for line in out.splitlines()} == {
        "GG402",
        "GG204",
    }
    assert run(capsys, "-q", "--fix", "--unsafe-fixes", "train.ipynb") == (0, "", "")
    data = json.loads((project / "train.ipynb").read_text(encoding="utf-8"))
    fixed_loop, fixed_net = ("".join(c["source"]) for c in data["cells"][1:])
    assert "        optimizer.zero_grad()\n        loss.backward()" in fixed_loop
    assert fixed_net == net.replace("_init_(self)", "__init__(self)")
    ast.parse(parse_notebook(json.dumps(data)).joined().text)


HEAD_CELL = (
    "import torch\nfrom torch import nn\nw = torch.randn(3, requires_grad=True)\n"
    "layer = nn.Linear(3, 3)\n"
)


@pytest.mark.parametrize(
    ("last_line", "fixed_tail"),
    [
        # A fix that rewrites the cell's last line (as Jupyter saves it, without a line
        # break) must not add one: the joined program's separator is not the cell's.
        ("w.grad.zero_()", "if w.grad is not None:\n    w.grad.zero_()"),
        # A fix that deletes the last line leaves the line above as the cell's last.
        ("layer.weight = None", ""),
    ],
)
def test_fix_of_a_cells_last_line_adds_no_line_break(project, capsys, last_line, fixed_tail):
    cells = [("code", HEAD_CELL + last_line), ("code", "print(layer)")]
    (project / "train.ipynb").write_text(notebook_text(cells), encoding="utf-8")
    assert run(capsys, "--fix", "--unsafe-fixes", "-q", "train.ipynb") == (0, "", "")
    data = json.loads((project / "train.ipynb").read_text(encoding="utf-8"))
    fixed = "".join(data["cells"][0]["source"])
    assert fixed == (HEAD_CELL + fixed_tail if fixed_tail else HEAD_CELL.removesuffix("\n"))
    assert data["cells"][1]["source"] == ["print(layer)"]
    ast.parse(parse_notebook(json.dumps(data)).joined().text)
    assert run(capsys, "-q", "train.ipynb") == (0, "", "")


def test_fix_in_a_crlf_cell_keeps_crlf(project, capsys):
    cell = "import torch\r\nw = torch.randn(3, requires_grad=True)\r\nw.grad.zero_()\r\nprint(w)"
    (project / "train.ipynb").write_text(notebook_text([("code", cell)]), encoding="utf-8")
    assert run(capsys, "--fix", "-q", "train.ipynb") == (0, "", "")
    data = json.loads((project / "train.ipynb").read_text(encoding="utf-8"))
    assert data["cells"][0]["source"] == [
        "import torch\r\n",
        "w = torch.randn(3, requires_grad=True)\r\n",
        "if w.grad is not None:\r\n",
        "    w.grad.zero_()\r\n",
        "print(w)",
    ]
    ast.parse(parse_notebook(json.dumps(data)).joined().text)
    assert run(capsys, "-q", "train.ipynb") == (0, "", "")
