"""Demand-driven resolution: jedi is asked only about a name whose answer can change a
finding, and the findings are those of asking about every name before the rules run."""

from __future__ import annotations

import ast
import re
import textwrap

import pytest

from gradguard import engine
from gradguard.analysis.resolution import SymbolKind
from gradguard.engine import analyze
from gradguard.rules import all_rules
from gradguard.rules.base import RuleContext

OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Lamb")


class Answers:
    """A resolver that answers from a table and records every question."""

    def __init__(self, kinds: dict[str, SymbolKind]) -> None:
        self.kinds = kinds
        self.asked: list[str] = []

    def classify(self, qualified_name: str, path: str) -> SymbolKind | None:
        self.asked.append(qualified_name)
        return self.kinds.get(qualified_name, SymbolKind.OTHER)


def contrib_answers() -> Answers:
    kinds = {f"contrib.{name}": SymbolKind.OPTIMIZER_CLASS for name in OPTIMIZERS}
    kinds.update(
        {
            "contrib.Base": SymbolKind.MODULE_CLASS,
            "contrib.Linear": SymbolKind.MODULE_CLASS,
            "contrib.Net": SymbolKind.MODULE_CLASS,
            "contrib.build_model": SymbolKind.MODULE_FACTORY,
        }
    )
    return Answers(kinds)


class EagerContext(RuleContext):
    """Asks every question up front, as the analysis did before it asked on demand:
    every class's kind and submodules, every call's kind, every optimizer creation."""

    def __init__(self, facts) -> None:  # type: ignore[no-untyped-def]
        super().__init__(facts)
        for info in facts.classes.values():
            (info.is_module, info.is_optimizer, dict(info.submodules), info.parameters)
        for call in facts.nodes_of(ast.Call):
            facts.is_module_call(call)
            facts.is_optimizer_call(call)
        self.optimizers.creations  # noqa: B018 - asked for its questions


def eager(text: str, answers: Answers, monkeypatch: pytest.MonkeyPatch):
    with monkeypatch.context() as patch:
        patch.setattr(engine, "RuleContext", EagerContext)
        return analyze(text, "train.py", resolver=answers)


def from_elsewhere(code: str) -> str:
    """A rule's example with its optimizers, layers and base classes imported from a
    module jedi would have to read (``contrib``)."""
    code = re.sub(r"\btorch\.optim\.(\w+)\(", r"contrib.\1(", code)
    code = re.sub(r"\b(?:optim|torch\.optim)\.(?=[A-Z])", "contrib.", code)
    code = re.sub(r"\bnn\.Module\b", "contrib.Base", code)
    code = re.sub(r"\bnn\.Linear\(", "contrib.Linear(", code)
    return "import contrib\n" + code


EXAMPLES = [
    pytest.param(from_elsewhere(rule.code_block(section)), id=f"{rule.code}-{section}")
    for rule in all_rules()
    for section in ("Example", "Use instead")
    if rule.code_block(section)
]


@pytest.mark.parametrize("code", EXAMPLES)
def test_findings_equal_asking_everything_first(code, monkeypatch):
    lazy_answers, eager_answers = contrib_answers(), contrib_answers()
    lazy = analyze(code, "train.py", resolver=lazy_answers)
    before = eager(code, eager_answers, monkeypatch)
    assert lazy.findings == before.findings
    assert set(lazy_answers.asked) <= set(eager_answers.asked)


def test_the_examples_still_find_through_imported_names():
    # The rewritten examples are not vacuous: imported optimizers and models still give
    # findings, so the equality above compares real findings.
    found = {
        rule.code
        for rule in all_rules()
        for finding in analyze(
            from_elsewhere(rule.code_block("Example")), "train.py", resolver=contrib_answers()
        ).findings
        if finding.code == rule.code
    }
    assert {"GG101", "GG102", "GG103", "GG104", "GG105", "GG204"} <= found


LIBRARY_BLOCK = """
from .layers import Attention, Mlp, DropPath
from .helpers import build_norm


class Block(Attention):
    def __init__(self, dim, heads):
        super().__init__(dim, heads)
        self.norm = build_norm(dim)
        self.mlp = Mlp(dim, 4 * dim)
        self.drop = DropPath(0.1)

    def forward(self, x):
        return x + self.drop(self.mlp(self.norm(x)))
"""


def test_a_file_with_no_candidate_finding_asks_nothing(monkeypatch):
    answers = Answers({".layers.Attention": SymbolKind.MODULE_CLASS})
    assert analyze(LIBRARY_BLOCK, "timm/models/block.py", resolver=answers).findings == []
    assert answers.asked == []
    # Asking everything first asked about every imported name, for the same findings.
    everything = Answers({".layers.Attention": SymbolKind.MODULE_CLASS})
    assert eager(LIBRARY_BLOCK, everything, monkeypatch).findings == []
    assert {".layers.Attention", ".layers.Mlp", ".layers.DropPath"} <= set(everything.asked)


IMPORTED_OPTIMIZER = """
import torch
from mylib.optim import Lamb
from mylib.models import Net


def train(loader):
    model = Net()
    optimizer = Lamb([], lr=1e-3)
    for x, y in loader:
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
"""


@pytest.mark.parametrize(
    ("kind", "codes"),
    [(SymbolKind.OPTIMIZER_CLASS, ["GG101"]), (SymbolKind.OTHER, []), (None, [])],
)
def test_a_finding_that_needs_an_answer_asks_it(kind, codes):
    answers = Answers({"mylib.optim.Lamb": kind})  # type: ignore[dict-item]  # None: unknown
    found = analyze(IMPORTED_OPTIMIZER, "train.py", resolver=answers).findings
    assert [f.code for f in found if f.code.startswith("GG1")] == codes
    assert "mylib.optim.Lamb" in answers.asked


CONFIGURE_OPTIMIZERS = """
from mylib.optim import Lamb
from mylib.models import Backbone


class Classifier(Backbone):
    def make_optimizer(self):
        return Lamb(self.parameters(), lr=1e-3)
"""


def test_a_construction_no_rule_would_report_is_not_asked_about():
    answers = Answers(
        {
            "mylib.optim.Lamb": SymbolKind.OPTIMIZER_CLASS,
            "mylib.models.Backbone": SymbolKind.MODULE_CLASS,
        }
    )
    assert analyze(CONFIGURE_OPTIMIZERS, "model.py", resolver=answers).findings == []
    assert "mylib.optim.Lamb" not in answers.asked  # (what `self` is may be asked)
    broken = CONFIGURE_OPTIMIZERS.replace("self.parameters()", "self.parameters")
    found = analyze(broken, "model.py", resolver=answers).findings
    assert [f.code for f in found] == ["GG101"]
    assert "mylib.optim.Lamb" in answers.asked


STALE = """
from mylib.optim import Lamb
from mylib.models import Net

model = Net()
optimizer = Lamb(model.parameters(), lr=1e-3)
model = Net()
optimizer.step()
"""


def test_a_stale_optimizer_of_imported_classes_is_reported():
    answers = Answers(
        {
            "mylib.optim.Lamb": SymbolKind.OPTIMIZER_CLASS,
            "mylib.models.Net": SymbolKind.MODULE_CLASS,
        }
    )
    assert [f.code for f in analyze(STALE, "train.py", resolver=answers).findings] == ["GG102"]
    assert "mylib.optim.Lamb" in answers.asked


MISSPELLED_INIT = """
from mylib.layers import Base
import torch


class Head(Base):
    def __int__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)


class Plain(Base):
    def __init__(self):
        super().__init__()
"""


def test_an_imported_base_is_asked_about_only_for_the_class_that_would_be_reported():
    answers = Answers({"mylib.layers.Base": SymbolKind.MODULE_CLASS})
    found = analyze(textwrap.dedent(MISSPELLED_INIT), "heads.py", resolver=answers).findings
    assert [f.code for f in found] == ["GG204"]
    assert answers.asked.count("mylib.layers.Base") >= 1


# -- a construction's check that itself asks (analysis.demand.Probe) -------------------

WRAPPED_LAYER = """
from mylib import layers, tools


def build(flag):
    layer = layers.Linear(4, 2) if flag else layers.Conv(3, 3)
    return tools.Wrapper(layer, 0.1)
"""

PROBE_KINDS = {
    "mylib.layers.Linear": SymbolKind.MODULE_CLASS,
    "mylib.layers.Conv": SymbolKind.MODULE_CLASS,
    "mylib.tools.Wrapper": SymbolKind.OTHER,
}


def test_a_check_asking_more_than_its_construction_asks_the_construction_first(monkeypatch):
    # Whether `layer` is a module needs two answers; whether `Wrapper(...)` builds an
    # optimizer, one: that one is asked, and as it does not, nothing else is.
    answers = Answers(PROBE_KINDS)
    assert analyze(WRAPPED_LAYER, "build.py", resolver=answers).findings == []
    assert answers.asked == ["mylib.tools.Wrapper"]
    everything = Answers(PROBE_KINDS)
    assert eager(WRAPPED_LAYER, everything, monkeypatch).findings == []
    assert {"mylib.layers.Linear", "mylib.layers.Conv"} <= set(everything.asked)


def test_a_construction_asked_first_that_builds_an_optimizer_is_still_checked(monkeypatch):
    kinds = {**PROBE_KINDS, "mylib.tools.Wrapper": SymbolKind.OPTIMIZER_CLASS}
    answers = Answers(kinds)
    found = analyze(WRAPPED_LAYER, "build.py", resolver=answers).findings
    assert [f.code for f in found] == ["GG101"]
    assert "receives a module" in found[0].message or "module" in found[0].message
    assert found == eager(WRAPPED_LAYER, Answers(kinds), monkeypatch).findings


def test_a_check_that_asks_nothing_when_muted_gives_its_finding_unasked(monkeypatch):
    # `SGD(model)` of a same-file module: the check needs no answer, the construction
    # (imported) is asked only because the check found something.
    code = (
        "import torch\nfrom mylib.optim import Lamb\n\n"
        "class Net(torch.nn.Module):\n    pass\n\n"
        "model = Net()\nLamb(model, lr=0.1)\nlayer = torch.nn.Linear(2, 2)\n"
    )
    answers = Answers({"mylib.optim.Lamb": SymbolKind.OPTIMIZER_CLASS})
    found = analyze(code, "train.py", resolver=answers).findings
    assert [f.code for f in found] == ["GG101"]
    assert answers.asked == ["mylib.optim.Lamb"]
    assert found == eager(code, contrib_like({"mylib.optim.Lamb"}), monkeypatch).findings


def contrib_like(optimizers: set[str]) -> Answers:
    return Answers(dict.fromkeys(optimizers, SymbolKind.OPTIMIZER_CLASS))


def test_the_probe_is_off_without_a_resolver_and_under_the_editors_read_log():
    from gradguard.analysis.demand import Probe
    from gradguard.analysis.facts import ModuleFacts
    from gradguard.semantic.reads import recording
    from gradguard.source import SourceFile

    tree = ast.parse(WRAPPED_LAYER)
    plain = ModuleFacts(SourceFile(WRAPPED_LAYER, "build.py"), tree)
    assert not Probe(plain, lambda facts: list, lambda facts: bool).active
    asking = ModuleFacts(SourceFile(WRAPPED_LAYER, "build.py"), tree, Answers(PROBE_KINDS))
    assert Probe(asking, lambda facts: list, lambda facts: bool).active
    with recording():
        assert not Probe(asking, lambda facts: list, lambda facts: bool).active


# -- GG302: what an update's name held is asked only for an update that may be one -----

FORWARD_UPDATES = """
from .layers import Attention, DropPath


class Block(Attention):
    def __init__(self, dim):
        super().__init__(dim)
        self.drop_path = DropPath(0.1)

    def forward(self, x):
        x = x + self.drop_path(self.attn(x))
        x = x * self.gamma
        return x
"""


def test_a_forward_pass_rebinding_its_input_asks_nothing(monkeypatch):
    answers = Answers({".layers.Attention": SymbolKind.MODULE_CLASS})
    assert analyze(FORWARD_UPDATES, "timm/models/block.py", resolver=answers).findings == []
    assert answers.asked == []
    everything = Answers({".layers.Attention": SymbolKind.MODULE_CLASS})
    assert eager(FORWARD_UPDATES, everything, monkeypatch).findings == []


def test_a_manual_update_of_a_leaf_in_a_training_loop_is_still_found():
    code = (
        "import torch\nfrom mylib.data import Loader\n\n"
        "w = torch.zeros(3, requires_grad=True)\n"
        "for x in Loader(8):\n"
        "    loss = (x @ w).sum()\n"
        "    loss.backward()\n"
        "    g = w.grad\n"
        "    w = w - 0.1 * g\n"
    )
    found = analyze(code, "train.py", resolver=Answers({})).findings
    assert "GG302" in [f.code for f in found]


SHARED_ARGUMENT = """
from mylib import layers, tools


def build(flag):
    groups = layers.Linear(4, 2) if flag else layers.Conv(3, 3)
    first = tools.Registry(groups, 0.1)
    second = tools.Registry(groups, 0.2)
    return first, second
"""


@pytest.mark.parametrize(
    ("kind", "codes"), [(SymbolKind.OTHER, []), (SymbolKind.OPTIMIZER_CLASS, ["GG101", "GG101"])]
)
def test_two_constructions_of_one_argument_ask_about_it_only_if_they_build_optimizers(
    kind, codes, monkeypatch
):
    # GG101 (what each receives) and GG104 (whether it is a list of group dicts) both
    # probe with jedi muted; the layers are asked about only once `Registry` builds one.
    kinds = {**PROBE_KINDS, "mylib.tools.Registry": kind}
    answers = Answers(kinds)
    found = analyze(SHARED_ARGUMENT, "build.py", resolver=answers).findings
    assert [f.code for f in found] == codes
    assert found == eager(SHARED_ARGUMENT, Answers(kinds), monkeypatch).findings
    layers_asked = {"mylib.layers.Linear", "mylib.layers.Conv"} & set(answers.asked)
    assert answers.asked[0] == "mylib.tools.Registry"
    assert bool(layers_asked) == (kind is SymbolKind.OPTIMIZER_CLASS)


def test_the_probes_copies_of_the_facts_are_freed_with_the_analysis():
    # A copy of the facts (analysis.demand.Probe) holds its semantic model, which holds
    # it: released with the file's facts, so no tree waits for a full collection.
    import gc

    analyze(WRAPPED_LAYER, "build.py", resolver=Answers(PROBE_KINDS))  # warm
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        analyze(WRAPPED_LAYER, "build.py", resolver=Answers(PROBE_KINDS))
        gc.collect()
        trapped = [o for o in gc.garbage if isinstance(o, ast.AST)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert trapped == []
