"""Functions of other workspace modules, summarised: ``replace_head(model)`` in ``utils.py``
counts for GG102 in ``train.py``, and ``to_device(model)`` for GG105. The modules are
found by path where Python would look, parsed (never run), cached by version."""

from __future__ import annotations

import ast
import os
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from gradguard.engine import analyze
from gradguard.findings import Finding
from gradguard.source import apply_edits
from gradguard.workspace_modules import WorkspaceModules, WorkspaceOnlyResolver

UTILS = """\
from torch import nn, optim


def replace_head(model, classes=3):
    model.fc = nn.Linear(4, classes)


def describe(model):
    print(sum(p.numel() for p in model.parameters()))
    return model


def fresh_copy(model):
    model = nn.Linear(4, 2)
    model.fc = nn.Linear(4, 3)
    return model


def to_device(model, device):
    model.to(device)
    return model


def add_head(optimizer, head):
    optimizer.add_param_group({"params": head.parameters()})


def make_optimizer(model, lr=0.1):
    params = model.parameters()
    return optim.SGD(params, lr=lr)


def make_backbone_optimizer(model):
    optimizer = optim.Adam(model.backbone.parameters())
    return optimizer


def make_fresh_optimizer(model):
    model = nn.Linear(4, 2)
    return optim.SGD(model.parameters())


def make_unwrapped_optimizer(model):
    optimizer = optim.SGD(model.parameters())
    model = getattr(model, "module", model)
    return optimizer


def make_backbone_first_optimizer(model):
    params = model.backbone.parameters()
    optimizer = optim.Adam(params)
    params = None
    return optimizer
"""

NET = """\
import torch
from torch import nn
{imports}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)


def train_one_epoch(model, optimizer, batches):
    for x, y in batches:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


model = Net()
{before}
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
{after}
train_one_epoch(model, optimizer, [])
"""


IMPORT_HEAD = "from utils import replace_head"
BUILT = """\
import torch
from torch import nn

import utils

model = nn.Sequential(nn.Linear(4, 4))
model.backbone = nn.Linear(4, 4)
{before}
optimizer = utils.{factory}(model)
{after}
for _ in range(3):
    optimizer.zero_grad()
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
"""


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))


def _train(imports: str, *, before: str = "", after: str = "") -> str:
    return NET.format(imports=imports, before=before, after=after)


def _workspace(root: Path, imports: str, *, before: str = "", after: str = "") -> None:
    """``utils.py`` and a ``train.py`` that imports from it."""
    _write(root, {"utils.py": UTILS, "train.py": _train(imports, before=before, after=after)})


def _findings(root: Path, name: str, resolver: object | None = None) -> list[Finding]:
    path = root / name
    result = analyze(
        path.read_text(), str(path), resolver=resolver or WorkspaceOnlyResolver(str(root))
    )  # type: ignore[arg-type]
    assert result.parse_error is None and not result.notices, result
    return result.findings


def _codes(root: Path, name: str = "train.py") -> list[tuple[str, int]]:
    return [(f.code, f.span.start.line + 1) for f in _findings(root, name)]


# -- GG102 through a helper of another module ---------------------------------------


@pytest.mark.parametrize(
    ("imports", "call"),
    [
        ("from utils import replace_head", "replace_head(model)"),
        ("import utils", "utils.replace_head(model)"),
        ("import utils as u", "u.replace_head(model, classes=5)"),
        ("from utils import replace_head as swap", "swap(model=model)"),
    ],
)
def test_a_head_replaced_by_a_helper_in_utils_after_the_optimizer_is_reported(
    tmp_path: Path, imports: str, call: str
) -> None:
    _workspace(tmp_path, imports, after=call)
    found = [f for f in _findings(tmp_path, "train.py") if f.code == "GG102"]
    assert [f.span.start.line + 1 for f in found] == [25]
    assert "replaces `model.fc` (utils.py line 5) after `optimizer` was created" in found[0].message


def test_the_same_helper_called_before_the_optimizer_is_silent(tmp_path: Path) -> None:
    _workspace(tmp_path, "from utils import replace_head", before="replace_head(model)")
    assert _codes(tmp_path) == []


@pytest.mark.parametrize("helper", ["describe", "fresh_copy", "missing_name"])
def test_a_helper_that_replaces_nothing_of_its_argument_is_silent(
    tmp_path: Path, helper: str
) -> None:
    # ``fresh_copy`` rebinds its parameter first: the caller's model is untouched.
    _write(
        tmp_path,
        {"utils.py": UTILS, "train.py": _train("import utils", after=f"utils.{helper}(model)")},
    )
    assert _codes(tmp_path) == []


@pytest.mark.parametrize(
    ("helper", "codes"),
    [("utils.add_head(optimizer, model.fc)", []), ("utils.describe(model.fc)", ["GG102"])],
)
def test_a_new_layer_a_helper_adds_to_the_optimizer_is_not_stale(
    tmp_path: Path, helper: str, codes: list[str]
) -> None:
    _workspace(tmp_path, "import utils", after=f"model.fc = nn.Linear(4, 3)\n{helper}")
    assert [code for code, _ in _codes(tmp_path)] == codes


def test_a_relative_import_inside_a_package_and_a_package_reexport(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .heads import replace_head\n",
            "pkg/heads.py": UTILS,
            "pkg/train.py": _train("from .heads import replace_head", after="replace_head(model)"),
            "script.py": _train("from pkg import replace_head", after="replace_head(model)"),
        },
    )
    assert _codes(tmp_path, "pkg/train.py") == [("GG102", 25)]
    found = _findings(tmp_path, "script.py")
    assert [(f.code, f.span.start.line + 1) for f in found] == [("GG102", 25)]
    assert f"({os.path.join('pkg', 'heads.py')} line 5)" in found[0].message


def test_the_importing_files_folder_is_searched_before_the_workspace_root(tmp_path: Path) -> None:
    # ``python scripts/train.py`` imports ``scripts/utils.py``, not the root's.
    _write(
        tmp_path,
        {
            "utils.py": "def replace_head(model):\n    print(model)\n",
            "scripts/utils.py": UTILS,
            "scripts/train.py": _train(IMPORT_HEAD, after="replace_head(model)"),
        },
    )
    assert _codes(tmp_path, "scripts/train.py") == [("GG102", 25)]


@pytest.mark.parametrize(
    "utils",
    [
        pytest.param("def replace_head(model:\n    model.fc = None\n", id="syntax-error"),
        pytest.param(None, id="no-such-module"),
        pytest.param(b"\xff\xfe def replace_head(model): pass", id="not-utf8"),
    ],
)
def test_a_module_that_cannot_be_read_or_does_not_exist_is_unknown(
    tmp_path: Path, utils: str | bytes | None
) -> None:
    if isinstance(utils, bytes):
        (tmp_path / "utils.py").write_bytes(utils)
    elif utils is not None:
        (tmp_path / "utils.py").write_text(utils)
    _write(tmp_path, {"train.py": _train(IMPORT_HEAD, after="replace_head(model)")})
    assert _codes(tmp_path) == []


def test_installed_packages_are_not_summarised(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    _write(site, {"headlib/__init__.py": UTILS})
    imports = "from headlib import replace_head"
    _write(tmp_path, {"train.py": _train(imports, after="replace_head(model)")})
    resolver = WorkspaceOnlyResolver(str(tmp_path))
    resolver.workspace = WorkspaceModules(lambda: (str(tmp_path), str(site)))
    assert [f.code for f in _findings(tmp_path, "train.py", resolver)] == []
    assert resolver.workspace.summarised == 0


def test_a_circular_import_is_summarised_once_and_still_counts(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "utils.py": "from train import Net\n" + UTILS,
            "train.py": _train("from utils import replace_head", after="replace_head(model)"),
        },
    )
    resolver = WorkspaceOnlyResolver(str(tmp_path))
    assert [f.code for f in _findings(tmp_path, "train.py", resolver)] == ["GG102"]
    assert [f.code for f in _findings(tmp_path, "utils.py", resolver)] == []
    # utils.py's own imports are not followed while it is summarised: one level only.
    assert resolver.workspace.summarised == 1


def test_the_file_own_function_of_the_same_name_wins_over_the_import(tmp_path: Path) -> None:
    own = "from utils import replace_head\n\n\ndef replace_head(model):\n    return model\n"
    _workspace(tmp_path, own, after="replace_head(model)")
    assert _codes(tmp_path) == []


def test_without_a_resolver_the_file_alone_is_analysed(tmp_path: Path) -> None:
    _workspace(tmp_path, "import utils", after="utils.replace_head(model)")
    path = tmp_path / "train.py"
    assert analyze(path.read_text(), str(path)).findings == []


def test_summaries_are_cached_by_modification_time(tmp_path: Path) -> None:
    _workspace(tmp_path, "import utils", after="utils.replace_head(model)")
    resolver = WorkspaceOnlyResolver(str(tmp_path))
    assert [f.code for f in _findings(tmp_path, "train.py", resolver)] == ["GG102"]
    assert [f.code for f in _findings(tmp_path, "train.py", resolver)] == ["GG102"]
    assert resolver.workspace.summarised == 1
    utils = tmp_path / "utils.py"
    utils.write_text(UTILS.replace("    model.fc = nn.Linear(4, classes)", "    print(classes)"))
    stat = utils.stat()
    os.utime(utils, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert [f.code for f in _findings(tmp_path, "train.py", resolver)] == []
    assert resolver.workspace.summarised == 2


def test_a_lookup_names_what_it_read_for_the_result_cache(tmp_path: Path) -> None:
    _write(tmp_path, {"scripts/train.py": "", "utils.py": UTILS})
    modules = WorkspaceModules(lambda: (str(tmp_path),))
    lookup = modules.function("utils.replace_head", str(tmp_path / "scripts" / "train.py"))
    assert lookup.found is not None and lookup.settled
    read = dict(lookup.deps)
    # A utils.py added next to train.py would shadow the root's: its folder is read too.
    assert set(read) == {str(tmp_path / "scripts"), str(tmp_path), str(tmp_path / "utils.py")}
    assert read[str(tmp_path / "utils.py")] == (tmp_path / "utils.py").stat().st_mtime_ns


def test_in_the_background_a_lookup_answers_unknown_then_tells_when_known(tmp_path: Path) -> None:
    import threading

    _write(tmp_path, {"utils.py": UTILS, "train.py": ""})
    ready = threading.Event()
    names: list[str] = []
    modules = WorkspaceModules(
        lambda: (str(tmp_path),),
        background=True,
        on_ready=lambda name: (names.append(name), ready.set()),
    )
    first = modules.function("utils.replace_head", str(tmp_path / "train.py"))
    assert first.found is None and not first.settled
    assert ready.wait(30)
    assert names == ["utils.replace_head"]
    second = modules.function("utils.replace_head", str(tmp_path / "train.py"))
    assert second.settled and second.found is not None
    assert [p.suffix for p in second.found[0].replaced] == [".fc"]
    # Through a package's re-export the caller's own name is the one announced.
    _write(
        tmp_path, {"pkg/__init__.py": "from .heads import replace_head\n", "pkg/heads.py": UTILS}
    )
    names.clear()
    asked = "pkg.replace_head"
    for _ in range(1500):  # two modules to summarise: pkg/__init__.py, then pkg/heads.py
        lookup = modules.function(asked, str(tmp_path / "train.py"))
        if lookup.found is not None:
            break
        time.sleep(0.02)
    assert lookup.settled and lookup.found is not None and set(names) == {asked}
    # A function that does nothing to its arguments re-analyses nobody when it lands.
    _write(tmp_path, {"quiet.py": "def log(model):\n    print(model)\n"})
    names.clear()
    done = modules.summarised + 1
    assert modules.function("quiet.log", str(tmp_path / "train.py")).found is None
    for _ in range(1500):
        if modules.summarised >= done:
            break
        time.sleep(0.02)
    assert modules.function("quiet.log", str(tmp_path / "train.py")).found is not None
    time.sleep(0.2)  # an announcement would follow the summary at once
    assert names == []


# -- the fix at the call -----------------------------------------------------------


@pytest.mark.parametrize(
    "train",
    [
        _train(IMPORT_HEAD, after="replace_head(model)"),
        BUILT.format(factory="make_optimizer", before="", after="model.fc = nn.Linear(4, 3)"),
    ],
    ids=["replaced-by-helper", "optimizer-built-by-helper"],
)
def test_gg102_fixes_repair_the_file(tmp_path: Path, train: str) -> None:
    _write(tmp_path, {"utils.py": UTILS, "train.py": train})
    path = tmp_path / "train.py"
    before = Counter(f.code for f in _findings(tmp_path, "train.py"))
    (finding,) = [f for f in _findings(tmp_path, "train.py") if f.code == "GG102"]
    assert finding.fixes
    for fix in finding.fixes:
        fixed = apply_edits(train, fix.edits)
        ast.parse(fixed)
        path.write_text(fixed)
        after = Counter(f.code for f in _findings(tmp_path, "train.py"))
        assert after["GG102"] == 0 and all(after[c] <= before[c] for c in after), fixed
        path.write_text(train)


# -- GG105 through a helper of another module ---------------------------------------


def test_a_model_moved_by_a_helper_after_the_optimizer_is_reported(tmp_path: Path) -> None:
    _workspace(tmp_path, "import utils", after='utils.to_device(model, "cpu")')
    (finding,) = _findings(tmp_path, "train.py")
    assert (finding.code, finding.span.start.line + 1) == ("GG105", 25)
    assert finding.message.startswith(
        '`utils.to_device(model, "cpu")` (`.to()` in utils.py line 20) runs after `optimizer`'
    )
    assert finding.fixes == ()  # moving a helper call is not offered


def test_the_message_cites_the_helper_move_of_the_model_not_its_first_move(
    tmp_path: Path,
) -> None:
    helper = (
        "\n\ndef to_device_all(batch, model, device):\n    batch.to(device)\n    model.to(device)\n"
    )
    _workspace(tmp_path, "import utils", after='utils.to_device_all(torch.zeros(2), model, "cpu")')
    (tmp_path / "utils.py").write_text((tmp_path / "utils.py").read_text() + helper)
    lines = (tmp_path / "utils.py").read_text().splitlines()
    moved = len(lines) - lines[::-1].index("    model.to(device)")  # to_device_all's
    (finding,) = _findings(tmp_path, "train.py")
    assert f"(`.to()` in utils.py line {moved}) runs after `optimizer`" in finding.message


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ('utils.to_device(model, "cpu")', ""),  # moved before: nothing to say
        ('utils.to_device(model, "cpu")', 'utils.to_device(model, "cpu")'),  # the same again
        ("", "utils.describe(model)"),  # does not move
        ("", 'utils.to_device(torch.zeros(2), "cpu")'),  # not the model
    ],
)
def test_helper_moves_that_leave_the_optimizer_state_alone_are_silent(
    tmp_path: Path, before: str, after: str
) -> None:
    _workspace(tmp_path, "import utils", before=before, after=after)
    assert _codes(tmp_path) == []


@pytest.mark.parametrize(
    ("bound", "value"), [("SUMMARY_TIME_LIMIT_S", -1.0), ("MAX_MODULE_BYTES", 100)]
)
def test_a_module_past_the_time_or_size_bound_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bound: str, value: float
) -> None:
    from gradguard import workspace_modules

    monkeypatch.setattr(workspace_modules, bound, value)
    _workspace(tmp_path, IMPORT_HEAD, after="replace_head(model)")
    assert _codes(tmp_path) == []
    summary = workspace_modules.summarise_file(str(tmp_path / "utils.py"))
    if bound == "MAX_MODULE_BYTES":
        assert summary is None
    else:
        assert summary is not None and not summary.complete and summary.functions == {}


# -- an optimizer built by a helper of another module --------------------------------


@pytest.mark.parametrize(
    ("factory", "before", "after", "expected"),
    [
        ("make_optimizer", "", "model.fc = nn.Linear(4, 3)", [("GG102", 10)]),
        ("make_optimizer", "", 'model.to("cpu")', [("GG105", 10)]),
        ("make_optimizer", "model.fc = nn.Linear(4, 3)", "", []),  # replaced before
        ("make_backbone_optimizer", "", "model.backbone = nn.Linear(4, 4)", [("GG102", 10)]),
        ("make_backbone_optimizer", "", "model.fc = nn.Linear(4, 3)", []),  # not its part
        ("make_fresh_optimizer", "", "model.fc = nn.Linear(4, 3)", []),  # another model's
        ("describe", "", "model.fc = nn.Linear(4, 3)", []),  # not an optimizer
        # what reaches the optimizer's construction counts, not a later rebinding
        ("make_unwrapped_optimizer", "", "model.fc = nn.Linear(4, 3)", [("GG102", 10)]),
        ("make_backbone_first_optimizer", "", "model.backbone = nn.Linear(4, 4)", [("GG102", 10)]),
        ("make_backbone_first_optimizer", "", "model.fc = nn.Linear(4, 3)", []),
    ],
)
def test_an_optimizer_built_by_a_helper_follows_the_model_it_was_given(
    tmp_path: Path, factory: str, before: str, after: str, expected: list[tuple[str, int]]
) -> None:
    _write(
        tmp_path,
        {"utils.py": UTILS, "train.py": BUILT.format(factory=factory, before=before, after=after)},
    )
    assert _codes(tmp_path) == expected
