"""The editor's incremental analysis (gradguard.incremental): after an edit it must
find exactly what a full analysis finds, analysing only what the edit can affect."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

import pytest
from benchmarks.realistic import TYPED, edit_point, realistic_script
from benchmarks.scripts import training_script

import gradguard.incremental
from gradguard.analysis.resolution import SymbolKind
from gradguard.config import Config
from gradguard.engine import AnalysisCancelled, analyze
from gradguard.incremental import Baseline, Reanalysis, analyze_edit, units_of

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
CONFIG = Config()

# train_a passes the module itself (GG101, an error only while Net is an nn.Module);
# train_b is independent of both.
TWO_TRAININGS = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(x)


def train_a():
    model = Net()
    opt = torch.optim.SGD(model, lr=0.1)
    return opt


def train_b():
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = model(torch.ones(2)).sum()
    loss.backward()
    opt.step()
    return opt
"""


@pytest.fixture(autouse=True)
def always_take_the_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    """These files are small: the shortcut would analyse most of them, and a whole
    analysis is chosen instead. Here the shortcut is what is tested."""
    monkeypatch.setattr(gradguard.incremental, "WHOLE_FILE_SHARE", 1.0)


def _start(text: str, path: str = "script.py") -> Baseline:
    first = analyze_edit(text, path, baseline=None, config=CONFIG)
    assert first.mode == "full" and first.baseline is not None
    return first.baseline


def _assert_same_as_full(edit: Reanalysis, text: str, path: str = "script.py") -> None:
    full = analyze(text, path, config=CONFIG)
    assert [f.to_dict() for f in edit.result.findings] == [f.to_dict() for f in full.findings]
    assert edit.result.parse_error == full.parse_error


def _edit(baseline: Baseline, text: str, path: str = "script.py") -> Reanalysis:
    edit = analyze_edit(text, path, baseline=baseline, config=CONFIG)
    _assert_same_as_full(edit, text, path)
    return edit


# -- units ----------------------------------------------------------------------------


def test_units_are_top_level_definitions_and_module_statements() -> None:
    text = (
        "import os; import sys\n"
        "\n"
        "@decorator\n"
        "def helper():\n"
        "    global counter\n"
        "    class Inner:\n"
        "        pass\n"
        "    return Inner\n"
        "\n"
        "counter = helper()\n"
    )
    lines = text.split("\n")
    units = units_of(ast.parse(text).body, lines)
    assert [(u.first, u.last, u.name) for u in units] == [
        (0, 0, None),
        (2, 7, "helper"),
        (9, 9, None),
    ]
    imports, helper, assignment = units
    assert imports.exports == {"os", "sys"} and not imports.binds_values
    assert helper.is_function and helper.exports == {"helper", "counter", "Inner"}
    assert assignment.exports == {"counter"} and assignment.binds_values
    assert "helper" in assignment.words and "decorator" in helper.words
    assert "pass" in helper.words  # words are read from the text, keywords too


# -- what is analysed again -------------------------------------------------------------------


def test_an_edit_inside_one_function_analyses_only_that_function() -> None:
    baseline = _start(TWO_TRAININGS)
    text = TWO_TRAININGS.replace("ones(2)).sum()", "ones(2)).mean()")
    edit = _edit(baseline, text)
    assert edit.mode == "incremental" and edit.units_analysed == 1
    assert any(f.code == "GG101" for f in edit.result.findings)  # train_a's, carried over


def test_a_new_assignment_of_a_name_reaches_the_code_spelling_it() -> None:
    """The step rules read every assignment of ``opt`` in the file (is it an optimizer?):
    editing one changes what ``train_a``'s ``opt`` may be too, not the module's classes."""
    baseline = _start(TWO_TRAININGS)
    text = TWO_TRAININGS.replace("lr=0.1)\n    loss", "lr=0.2)\n    loss")
    edit = _edit(baseline, text)
    assert edit.mode == "incremental" and edit.units_analysed == 2


def test_an_edited_class_changes_the_findings_of_the_functions_using_it() -> None:
    baseline = _start(TWO_TRAININGS)
    assert any(f.code == "GG101" for f in baseline.findings)
    edit = _edit(baseline, TWO_TRAININGS.replace("class Net(nn.Module):", "class Net:"))
    assert edit.mode == "incremental"
    assert not any(f.code == "GG101" for f in edit.result.findings)
    analysed = {edit.baseline.units[i].name for i in range(len(edit.baseline.units))}
    assert {"Net", "train_a"} <= analysed


def test_findings_below_an_insertion_move_down_with_their_fixes() -> None:
    before = TWO_TRAININGS.replace(
        "\ndef train_a", "\ndef unrelated():\n    return 0\n\n\ndef train_a"
    )
    baseline = _start(before)
    (found,) = [f for f in baseline.findings if f.code == "GG101"]
    edit = _edit(baseline, before.replace("    return 0\n", "    seed = 0\n\n\n    return seed\n"))
    assert edit.mode == "incremental" and edit.units_analysed == 1  # unrelated() alone
    (moved,) = [f for f in edit.result.findings if f.code == "GG101"]
    assert moved.span.start.line == found.span.start.line + 3
    assert [e.span.start.line for fix in moved.fixes for e in fix.edits] == [
        e.span.start.line + 3 for fix in found.fixes for e in fix.edits
    ]


def test_an_edit_needing_most_of_the_file_is_analysed_in_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # train_b and the imports are 9 of the file's 33 lines.
    monkeypatch.setattr(gradguard.incremental, "WHOLE_FILE_SHARE", 0.2)
    baseline = _start(TWO_TRAININGS)
    edit = _edit(baseline, TWO_TRAININGS.replace("lr=0.1)\n    loss", "lr=0.2)\n    loss"))
    assert edit.mode == "full" and edit.exact


def test_an_edit_that_does_not_parse_on_its_own_is_analysed_in_full() -> None:
    baseline = _start(TWO_TRAININGS)
    opened = TWO_TRAININGS.replace("    return opt\n", '    return opt\n    """\n', 1)
    edit = _edit(baseline, opened)
    assert edit.mode == "full" and edit.result.parse_error is not None
    # The last text that parsed stays the baseline: the next edit builds on it.
    assert edit.baseline is baseline
    typed = TWO_TRAININGS.replace("    return opt\n", "    return opt\n    x = 1\n", 1)
    assert _edit(edit.baseline, typed).mode == "incremental"


def test_an_answer_since_the_baseline_is_not_kept_past_a_text_that_does_not_parse() -> None:
    baseline = _start(TWO_TRAININGS)
    opened = TWO_TRAININGS.replace("    return opt\n", '    return opt\n    """\n', 1)
    edit = analyze_edit(
        opened,
        "script.py",
        baseline=baseline,
        config=CONFIG,
        answered=frozenset({"torch.optim.SGD"}),
    )
    assert edit.result.parse_error is not None and edit.baseline is None


def test_a_future_import_is_analysed_in_full() -> None:
    text = "from __future__ import annotations\n" + TWO_TRAININGS
    edit = _edit(_start(text), text.replace("lr=0.1)\n    loss", "lr=0.3)\n    loss"))
    assert edit.mode == "full"


USES_IMPORTED_NET = """\
import torch
from mylib import Net


def train():
    model = Net()
    opt = torch.optim.SGD(model, lr=0.1)
    return opt


def other():
    x = torch.zeros(2)
    return x
"""


class _Resolver:
    def __init__(self) -> None:
        self.kinds: dict[str, SymbolKind] = {}

    def classify(self, qualified_name: str, path: str) -> SymbolKind | None:
        return self.kinds.get(qualified_name)


def test_the_units_using_a_name_jedi_answered_since_are_analysed_again() -> None:
    resolver = _Resolver()
    first = analyze_edit(USES_IMPORTED_NET, "t.py", baseline=None, config=CONFIG, resolver=resolver)
    assert first.result.findings == [] and first.baseline is not None  # Net: unknown yet
    resolver.kinds["mylib.Net"] = SymbolKind.MODULE_CLASS  # the answer lands
    stale = analyze_edit(USES_IMPORTED_NET, "t.py", baseline=first.baseline, config=CONFIG)
    assert stale.mode == "unchanged"  # without being told, nothing is analysed
    again = analyze_edit(
        USES_IMPORTED_NET,
        "t.py",
        baseline=first.baseline,
        config=CONFIG,
        resolver=resolver,
        answered=frozenset({"mylib.Net"}),
    )
    full = analyze(USES_IMPORTED_NET, "t.py", config=CONFIG, resolver=resolver)
    assert again.mode == "incremental" and again.result.findings == full.findings
    assert [f.code for f in again.result.findings] == ["GG101"]
    assert again.units_analysed < len(again.baseline.units)  # not other()


def test_an_unchanged_text_reuses_the_findings() -> None:
    baseline = _start(TWO_TRAININGS)
    edit = _edit(baseline, TWO_TRAININGS)
    assert edit.mode == "unchanged" and edit.result.findings == baseline.findings


def test_a_partial_result_stays_partial_until_a_full_analysis() -> None:
    baseline = _start(TWO_TRAININGS)
    edit = _edit(baseline, TWO_TRAININGS.replace("lr=0.1)\n    return", "lr=0.5)\n    return"))
    assert baseline.exact and not edit.exact
    back = _edit(edit.baseline, TWO_TRAININGS)  # type: ignore[arg-type]
    assert back.mode == "incremental" and not back.exact


# Edits whose effect reaches beyond the edited definition (found in review): each pair is
# (before, after); the findings must change, and as a full analysis says.
STRIP = """\
import torch
from torch import nn


def strip(model):
    model.weight = None


net = nn.Linear(3, 2)
strip(net)
"""
INIT = """\
import torch
from torch import nn

model = nn.Sequential(
    nn.Conv2d(3, 8, 3),
    nn.ReLU(),
)


def init_weights(m):
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight)
        nn.init.zeros_(m.bias)


model.apply(init_weights)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
"""
HELPERS = """\
import torch
from torch import nn

model = nn.Linear(2, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)


def clear():
    opt.zero_grad()


def step():
    loss = model(torch.ones(2)).sum()
    loss.backward()
    opt.step()


for _ in range(3):
    clear()
    step()
"""
ONLY_IMPORT = """\
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        y = self.fc(x)
        self.fc.weight = None
        return y
"""
RESET = "from torch import nn\nmodel = nn.Linear(2, 2)\n\n\ndef reset():\n    model.weight = None\n"
MODULE_FLOW = """\
import torch
from torch import nn

model = nn.Linear(4, 4)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model.fc = nn.Linear(4, 3)
optimizer.add_param_group({"params": model.fc.parameters()})
for _ in range(2):
    optimizer.step()
"""
GAN = """\
import torch
from torch import nn

G = nn.Linear(4, 4)
D = nn.Linear(4, 1)
opt_g = torch.optim.Adam(G.parameters())
opt_d = torch.optim.Adam(D.parameters())


def train(loader):
    for real in loader:
        opt_g.zero_grad()
        loss_d = D(real).mean() - D(G(real)).mean()
        loss_d.backward()
        opt_d.step()


def debug():
    return None
"""
BLOCK = """\
from torch import nn


class Block(nn.Module):
    def __init__(self, dim, bias=True):
        super().__init__()
        self.proj = nn.Linear(dim, dim, bias=bias)
        nn.init.zeros_(self.proj.bias)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block(64, bias=True)
"""
NORM_CONFIG = """\
import functools
from torch import nn

NORM = {"layer": nn.BatchNorm2d}


def build(channels):
    bn = NORM["layer"](channels)
    nn.init.ones_(bn.weight)
    return bn


stem = build(32)
"""
REACHING_EDITS = {
    # GG402 reads every assignment of `D` in the file: `D = G` in a function that exports
    # nothing makes D an alias of G, so clearing opt_g may clear D's gradients (no
    # finding). Names alone do not follow it; the recorded scan does.
    "an unrelated function assigns a model's name": (
        GAN,
        GAN.replace("def debug():\n    return None", "def debug():\n    D = G\n    return D"),
    ),
    # GG304 in Block reads what another class passes for its `bias`.
    "another class passes bias=False": (
        BLOCK,
        BLOCK.replace("Block(64, bias=True)", "Block(64, bias=False)"),
    ),
    # GG304 in build() reads the config dict's entry (a partial of BatchNorm2d).
    "a config entry becomes a partial": (
        NORM_CONFIG,
        NORM_CONFIG.replace(
            '"layer": nn.BatchNorm2d', '"layer": functools.partial(nn.BatchNorm2d, affine=False)'
        ),
    ),
    # GG201 in strip() reads the value its caller passes.
    "the value a caller passes": (STRIP, STRIP.replace("nn.Linear(3, 2)", "nn.ReLU()")),
    # GG402 in step() reads the loop around its call, and what clear() does there.
    "a helper stops clearing": (HELPERS, HELPERS.replace("    opt.zero_grad()", "    pass")),
    # GG304 in init_weights() reads every layer of the file built without a bias.
    "a layer built without bias": (INIT, INIT.replace("3, 8, 3),", "3, 8, 3, bias=False),")),
    "a new layer without bias": (INIT, INIT + "other = nn.Conv2d(3, 8, 3, bias=False)\n"),
    # A module statement added, changed or deleted: module code is one flow, and what it
    # binds is read by functions.
    "an import added": (RESET.replace("from torch import nn", ""), RESET),
    # The only module statement deleted: what it bound still changes meaning.
    "the only import deleted": (ONLY_IMPORT, ONLY_IMPORT.replace("import torch.nn as nn", "")),
    "a module statement deleted": (
        MODULE_FLOW,
        MODULE_FLOW.replace('optimizer.add_param_group({"params": model.fc.parameters()})\n', ""),
    ),
    "an import inside a function": (
        "def setup():\n    pass\n\n\nw = torch.zeros(3, requires_grad=True).double()\n",
        "def setup():\n    import torch\n\n\nw = torch.zeros(3, requires_grad=True).double()\n",
    ),
    # A file-wide noqa comment silences findings in every definition.
    # (The file mentions "grad" before and after: the rules' text gates do not change.)
    "a file-wide noqa": (
        "# checked by gradguard\n" + STRIP,
        "# checked by gradguard\n# gradguard: noqa: GG201\n" + STRIP,
    ),
    # Names are identifiers as Python reads them, combining marks included.
    "a class named in Devanagari": (
        TWO_TRAININGS.replace("Net", "नेटा"),
        TWO_TRAININGS.replace("Net", "नेटा").replace("class नेटा(nn.Module):", "class नेटा:"),
    ),
}


@pytest.mark.parametrize(("before", "after"), REACHING_EDITS.values(), ids=REACHING_EDITS)
def test_edits_whose_effect_reaches_other_definitions(before: str, after: str) -> None:
    baseline = _start(before)
    edit = _edit(baseline, after)  # the same as a full analysis
    assert edit.result.findings != baseline.findings
    back = _edit(edit.baseline or _start(after), before)
    assert back.result.findings == baseline.findings


# -- the same findings as a full analysis, edit after edit --------------------------------------


def _mutations(lines: list[str], rng: random.Random) -> list[str]:
    """One keystroke-sized or paste-sized edit of ``lines``."""
    if not lines:  # cuts emptied the file: type something again
        return ["x = 1"]
    new = list(lines)
    i = rng.randrange(len(lines))
    line = lines[i]
    kind = rng.choice(
        ["append", "delete", "duplicate", "blank", "digit", "chop", "cut", "move", "dedent",
         "rename", "join"]
    )  # fmt: skip
    if kind == "append":
        new[i] = line + rng.choice([" + 1", "  # note", ".cpu()", ")", " 🙂"])
    elif kind == "delete":
        del new[i]
    elif kind == "duplicate":
        new.insert(i, line)
    elif kind == "blank":
        new.insert(i, "")
    elif kind == "digit":
        new[i] = line.replace("1", "2", 1)
    elif kind == "chop":
        new[i] = line[: len(line) // 2]
    elif kind == "cut":
        del new[i : i + rng.randint(2, 30)]
    elif kind == "move":
        block = new[i : i + rng.randint(1, 20)]
        del new[i : i + len(block)]
        j = rng.randrange(len(new) + 1)
        new[j:j] = block
    elif kind == "dedent":
        new[i] = line.lstrip()
    elif kind == "rename":
        renamed = re.sub(r"\b(def|class) (\w+)", r"\1 \2_x", line)
        new[i] = renamed if renamed != line else line.replace("model", "net")
    elif i + 1 < len(new):
        new[i] = line + new.pop(i + 1).strip()
    return new


def _sources() -> list[tuple[str, str]]:
    sources = [(path.name, path.read_text(encoding="utf-8")) for path in EXAMPLES]
    sources.append(("generated.py", training_script(700)))
    sources.append(("realistic.py", realistic_script(700)))
    tabs_crlf = EXAMPLES[0].read_text(encoding="utf-8").replace("    ", "\t").replace("\n", "\r\n")
    sources.append(("tabs_crlf.py", tabs_crlf))
    return sources


@pytest.mark.parametrize(("name", "text"), _sources(), ids=[n for n, _ in _sources()])
def test_edit_after_edit_the_findings_are_those_of_a_full_analysis(name: str, text: str) -> None:
    rng = random.Random(name)
    line_break = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(line_break)
    baseline: Baseline | None = _start(text, name)
    modes = []
    for _ in range(25):
        new = _mutations(lines, rng)
        new_text = line_break.join(new)
        edit = analyze_edit(new_text, name, baseline=baseline, config=CONFIG)
        _assert_same_as_full(edit, new_text, name)
        modes.append(edit.mode)
        if edit.result.parse_error is None:  # else the next edit builds on the last good one
            baseline, lines = edit.baseline, new
    assert "incremental" in modes  # the shortcut was taken, not only full analyses


def test_a_cancelled_analysis_stops_between_rules_whole_or_incremental() -> None:
    with pytest.raises(AnalysisCancelled):
        analyze_edit(TWO_TRAININGS, "t.py", baseline=None, config=CONFIG, cancelled=lambda: True)
    baseline = _start(TWO_TRAININGS)
    edited = TWO_TRAININGS.replace("lr=0.1)\n    loss", "lr=0.2)\n    loss")
    with pytest.raises(AnalysisCancelled):
        analyze_edit(edited, "t.py", baseline=baseline, config=CONFIG, cancelled=lambda: True)


LIGHTNING = """import pytorch_lightning as pl
import torch
import torchvision
from torch import nn


class Classifier(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = torchvision.models.resnet18()

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.model(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def unrelated():
    return 0


class NewHead(pl.Callback):
    def on_fit_start(self, trainer, pl_module):
        pl_module.model.fc = nn.Linear(512, 10)
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("nn.Linear(512, 10)", "nn.Linear(512, 20)"),  # the callback
        ("lr=0.1)", "lr=0.2)"),  # the module's configure_optimizers()
        ("self.parameters()", "self.model.layer1.parameters()"),  # the finding goes
        ("return 0", "return 1"),
    ],
)
def test_a_lightning_hook_finding_follows_edits_of_the_module_and_the_callback(
    old: str, new: str
) -> None:
    baseline = _start(LIGHTNING)
    assert [f.code for f in baseline.findings] == ["GG102"]
    _edit(baseline, LIGHTNING.replace(old, new))


def _typing(text: str, after: int, indent: str, every: int) -> list[Reanalysis]:
    """Type ``TYPED`` on a new line after line ``after``, one character per edit, each
    edit building on the last; every ``every``-th is compared with a full analysis."""
    lines = text.split("\n")
    baseline = _start(text, "train.py")
    edits = []
    for count in range(len(TYPED) + 1):
        typed = [*lines[: after + 1], indent + TYPED[:count], *lines[after + 1 :]]
        new_text = "\n".join(typed)
        edit = analyze_edit(new_text, "train.py", baseline=baseline, config=CONFIG)
        if count % every == 0 or count == len(TYPED):
            _assert_same_as_full(edit, new_text, "train.py")
        if edit.baseline is not None:
            baseline = edit.baseline
        edits.append(edit)
    return edits


def _assert_typing_analyses_little(edits: list[Reanalysis], lines: int) -> None:
    """Every keystroke that parses is analysed by the shortcut, on a small part of the
    file (what the edited code and the units reading it read, not all ``main()`` names);
    one that does not parse keeps the last baseline."""
    for edit in edits:
        if edit.result.parse_error is not None:
            assert edit.baseline is not None
            continue
        assert edit.mode == "incremental"
        assert edit.units_analysed <= 8, edit.units_analysed
        assert edit.lines_analysed < 0.25 * lines, (edit.lines_analysed, lines)


def test_typing_in_a_trainer_method_of_a_realistic_script() -> None:
    """``main()`` calls every function and drives a trainer class (the editor benchmark's
    realistic scripts): typing inside ``Trainer.train_one_epoch``."""
    text = realistic_script(1400)
    after, indent = edit_point(text)
    edits = _typing(text, after, indent, every=5)
    _assert_typing_analyses_little(edits[1:], text.count("\n"))  # [0]: a new line


def test_typing_in_a_function_main_calls() -> None:
    text = realistic_script(1400)
    lines = text.split("\n")
    after = next(i for i, line in enumerate(lines) if line.startswith("def warm_up_1("))
    edits = _typing(text, after + 3, "        ", every=5)  # inside its loop, after the break
    _assert_typing_analyses_little(edits[1:], len(lines))


# Edits of the realistic scripts whose effect reaches another definition: (old, new) in
# the second copy, and the line (of the old text) holding a finding the edit removes or
# adds elsewhere (None: the findings stay, the shortcut must still agree).
REALISTIC_EDITS = {
    # warm_up_1's loop now clears: the GG402 finding in train_step_1 goes.
    "the caller's loop clears the gradients": (
        "        train_step_1(model, optimizer, images, labels)\n",
        "        optimizer.zero_grad()\n        train_step_1(model, optimizer, images, labels)\n",
        "def train_step_1(",
    ),
    "the helper clears the gradients": (
        "    loss = F.cross_entropy(model(images), labels)\n    loss.backward()\n",
        "    optimizer.zero_grad()\n    loss = F.cross_entropy(model(images), labels)\n"
        "    loss.backward()\n",
        "def train_step_1(",
    ),
    # main() constructs Trainer1: its kind is read from the class header.
    "a trainer becomes a module": ("class Trainer1:", "class Trainer1(nn.Module):", None),
    "the trainer stops clearing": ("            self.optimizer.zero_grad()\n", "", None),
}


@pytest.mark.parametrize(("old", "new", "where"), REALISTIC_EDITS.values(), ids=REALISTIC_EDITS)
def test_realistic_edits_reaching_other_definitions(old: str, new: str, where: str | None) -> None:
    text = realistic_script(1400)
    at = text.index(old, text.index("class Config1"))
    edited = text[:at] + new + text[at + len(old) :]
    baseline = _start(text, "train.py")
    edit = _edit(baseline, edited, "train.py")  # the same as a full analysis
    if where is not None:  # a finding in another definition changed
        first = text[: text.index(where)].count("\n")
        before = {f.code for f in baseline.findings if first <= f.span.start.line < first + 6}
        after = {f.code for f in edit.result.findings if first <= f.span.start.line < first + 6}
        assert before != after
    back = _edit(edit.baseline or _start(edited, "train.py"), text, "train.py")
    assert back.result.findings == baseline.findings
