"""The jedi-backed resolver: classification, engine wiring, safety, cache, time bound."""

from __future__ import annotations

import ast
import importlib.util
import os
import threading
import time
from pathlib import Path

import jedi
import pytest

from gradguard import jedi_memory
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.resolution import SymbolKind
from gradguard.engine import analyze
from gradguard.resolver import DEFAULT_DENY, JediResolver
from gradguard.source import SourceFile

if importlib.util.find_spec("torch") is None:  # jedi needs torch's source, not torch itself
    pytest.skip("torch is not installed", allow_module_level=True)

MODELS = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)


class DeepNet(Net):
    pass


class Plain:
    pass


def build_model():
    return Net()


def helper():
    return 3


class Lamb(torch.optim.Optimizer):
    pass
"""

THIRD_PARTY = """\
import torch


class Lamb(torch.optim.Optimizer):
    pass


class Ranger(Lamb):
    pass


def make_head():
    return torch.nn.Linear(4, 2)
"""

HUGE = """\
from torch import nn


class Big(nn.Module):
    pass
"""

EVIL = """\
MARKER = {marker!r}
open(MARKER, "w").write("user code ran")
from torch import nn


class EvilNet(nn.Module):
    pass
"""

TRAIN_ABSOLUTE = """\
import torch
import models
import models as m
from models import Net, DeepNet as Deep, build_model, Plain, Lamb
from pkg.models import Net as PkgNet


class Mine(models.Net):
    pass


net = Net()
deep = Deep()
sub = m.DeepNet()
built = build_model()
plain = Plain()
pkg_net = PkgNet()
opt = Lamb(net.parameters(), lr=1e-3)
mine = Mine()
"""

TRAIN_RELATIVE = """\
from .models import Net, Lamb, build_model, Plain
from . import models
from .sub.layers import Block


net = Net()
other = models.DeepNet()
built = build_model()
plain = Plain()
block = Block()
opt = Lamb(net.parameters(), lr=1e-3)
"""

LAYERS = """\
from ..models import Net


class Block(Net):
    pass
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    project = root / "project"
    site = root / "site"
    (project / "pkg" / "sub").mkdir(parents=True)
    (site / "thirdparty_opt").mkdir(parents=True)
    (site / "hugepkg").mkdir()
    (project / "models.py").write_text(MODELS)
    (project / "train.py").write_text(TRAIN_ABSOLUTE)
    (project / "pkg" / "__init__.py").write_text("")
    (project / "pkg" / "models.py").write_text(MODELS)
    (project / "pkg" / "train.py").write_text(TRAIN_RELATIVE)
    (project / "pkg" / "sub" / "__init__.py").write_text("")
    (project / "pkg" / "sub" / "layers.py").write_text(LAYERS)
    (project / "evil.py").write_text(EVIL.format(marker=str(root / "MARKER")))
    (site / "thirdparty_opt" / "__init__.py").write_text(THIRD_PARTY)
    (site / "hugepkg" / "__init__.py").write_text(HUGE)
    return root


@pytest.fixture(scope="module")
def resolver(workspace: Path):
    # A generous timeout: the first query loads torch.nn into jedi (about 1 s cold).
    with JediResolver(
        str(workspace / "project"), extra_paths=[str(workspace / "site")], timeout=60.0
    ) as shared:
        yield shared


def _train(workspace: Path) -> str:
    return str(workspace / "project" / "train.py")


def _pkg_train(workspace: Path) -> str:
    return str(workspace / "project" / "pkg" / "train.py")


# -- classification ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("qualified", "expected"),
    [
        ("models.Net", SymbolKind.MODULE_CLASS),
        ("models.DeepNet", SymbolKind.MODULE_CLASS),
        ("models.build_model", SymbolKind.MODULE_FACTORY),
        ("models.Plain", SymbolKind.OTHER),
        ("models.helper", SymbolKind.OTHER),
        ("models.Lamb", SymbolKind.OPTIMIZER_CLASS),
        ("pkg.models.Net", SymbolKind.MODULE_CLASS),
        ("models", SymbolKind.OTHER),
        ("models.missing", None),
        ("nonexistent_pkg.Thing", None),
        ("thirdparty_opt.Lamb", SymbolKind.OPTIMIZER_CLASS),
        ("thirdparty_opt.Ranger", SymbolKind.OPTIMIZER_CLASS),
        ("thirdparty_opt.make_head", SymbolKind.MODULE_FACTORY),
    ],
)
def test_classify_absolute(resolver, workspace, qualified, expected):
    assert resolver.classify(qualified, _train(workspace)) is expected


@pytest.mark.parametrize(
    ("qualified", "expected"),
    [
        (".models.Net", SymbolKind.MODULE_CLASS),
        (".models.DeepNet", SymbolKind.MODULE_CLASS),
        (".models.build_model", SymbolKind.MODULE_FACTORY),
        (".models.Plain", SymbolKind.OTHER),
        (".models.Lamb", SymbolKind.OPTIMIZER_CLASS),
        (".sub.layers.Block", SymbolKind.MODULE_CLASS),
        (".models.missing", None),
    ],
)
def test_classify_relative(resolver, workspace, qualified, expected):
    assert resolver.classify(qualified, _pkg_train(workspace)) is expected


def test_relative_import_from_a_subpackage(resolver, workspace):
    layers = str(workspace / "project" / "pkg" / "sub" / "layers.py")
    assert resolver.classify("..models.Net", layers) is SymbolKind.MODULE_CLASS


def test_describe_class(resolver, workspace):
    description = resolver.describe_class("models.DeepNet", _train(workspace))
    assert description == "models.DeepNet (class defined in models.py line 11)"
    assert resolver.describe_class("models.missing", _train(workspace)) is None


def test_invalid_names_are_unknown(resolver, workspace):
    before = resolver.jedi_queries
    for name in ("", ".", "models.1x", "models.class", "models.Net; import os"):
        assert resolver.classify(name, _train(workspace)) is None
    assert resolver.jedi_queries == before


# -- the engine uses it ----------------------------------------------------------------


def _facts(text: str, path: str, resolver) -> tuple[ModuleFacts, dict[str, ast.Call]]:
    tree = ast.parse(text)
    facts = ModuleFacts(SourceFile(text, path), tree, resolver)
    calls = {
        stmt.targets[0].id: stmt.value
        for stmt in tree.body
        if isinstance(stmt, ast.Assign)
        and isinstance(stmt.targets[0], ast.Name)
        and isinstance(stmt.value, ast.Call)
    }
    return facts, calls


def test_module_facts_use_the_resolver(resolver, workspace):
    facts, calls = _facts(TRAIN_ABSOLUTE, _train(workspace), resolver)
    for name in ("net", "deep", "sub", "built", "pkg_net", "mine"):
        assert facts.is_module_call(calls[name]), name
    assert facts.is_optimizer_call(calls["opt"])
    assert not facts.is_module_call(calls["plain"])
    assert not facts.is_optimizer_call(calls["net"])
    assert facts.classes["Mine"].is_module  # base class resolved through jedi


def test_module_facts_relative_imports(resolver, workspace):
    facts, calls = _facts(TRAIN_RELATIVE, _pkg_train(workspace), resolver)
    for name in ("net", "other", "built", "block"):
        assert facts.is_module_call(calls[name]), name
    assert facts.is_optimizer_call(calls["opt"])
    assert not facts.is_module_call(calls["plain"])


def test_without_a_resolver_the_names_are_unknown(workspace):
    facts, calls = _facts(TRAIN_ABSOLUTE, _train(workspace), None)
    assert not facts.is_module_call(calls["net"])
    assert not facts.is_optimizer_call(calls["opt"])


def test_analyze_runs_with_the_resolver(resolver, workspace):
    result = analyze(TRAIN_ABSOLUTE, _train(workspace), resolver=resolver)
    assert result.parse_error is None
    assert not result.notices, result.notices


# -- safety ------------------------------------------------------------------------------


def test_user_code_is_never_executed(resolver, workspace):
    marker = workspace / "MARKER"
    path = _train(workspace)
    assert resolver.classify("evil.EvilNet", path) is SymbolKind.MODULE_CLASS
    assert resolver.classify("evil.MARKER", path) is SymbolKind.OTHER
    text = "import evil\nnet = evil.EvilNet()\n"
    facts, calls = _facts(text, path, resolver)
    assert facts.is_module_call(calls["net"])
    analyze(text, path, resolver=resolver)
    assert not marker.exists()


class _AskedNames:
    """A resolver that knows one optimizer class and records every question."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def classify(self, qualified_name: str, path: str) -> SymbolKind | None:
        self.asked.append(qualified_name)
        return SymbolKind.OPTIMIZER_CLASS if qualified_name == "optlib.Lamb" else None


def test_only_calls_that_can_build_an_optimizer_are_asked_about():
    # Four in five of jedi's questions on library code asked whether a function call or
    # an argument-less call built an optimizer: neither can (class names are capitalised,
    # and an optimizer receives its parameters).
    text = (
        "from optlib import Lamb, make_thing, Registry\n"
        "a = make_thing(model.parameters())\n"
        "b = Registry()\n"
        "c = Lamb(model.parameters(), lr=0.1)\n"
    )
    resolver = _AskedNames()
    facts, calls = _facts(text, "/tmp/train.py", resolver)
    assert [facts.is_optimizer_call(calls[name]) for name in "abc"] == [False, False, True]
    assert resolver.asked == ["optlib.Lamb"]


def test_jedi_settings(resolver):
    assert jedi.settings.auto_import_modules == []
    assert jedi.settings.dynamic_params is False
    assert jedi.settings.dynamic_params_for_other_modules is False
    import parso.cache

    assert parso.cache._CACHED_SIZE_TRIGGER >= 10**9
    for project in resolver._projects.values():
        assert project.load_unsafe_extensions is False


def test_parso_disk_cache_is_written_atomically_and_a_damaged_entry_is_a_miss(resolver, tmp_path):
    # Two `check --jobs 2` workers shared parso's disk cache: one read an entry the
    # other was writing and jedi failed with "EOFError: Ran out of input".
    import parso
    import parso.cache

    grammar = parso.load_grammar()
    source = tmp_path / "module.py"
    source.write_text("x = 1\n")
    cache_dir = tmp_path / "cache"
    grammar.parse(path=str(source), cache=True, cache_path=cache_dir)
    entry = Path(parso.cache._get_hashed_path(grammar._hashed, source, cache_path=cache_dir))
    assert entry.exists()
    assert [p.name for p in entry.parent.iterdir() if p.name.startswith(".gradguard-")] == []

    entry.write_bytes(entry.read_bytes()[:10])  # as a concurrent writer left it
    parso.cache.parser_cache.get(grammar._hashed, {}).pop(source, None)
    again = grammar.parse(path=str(source), cache=True, cache_path=cache_dir)
    assert again.get_code() == "x = 1\n"
    assert len(entry.read_bytes()) > 10  # rewritten whole


# -- cache -------------------------------------------------------------------------------


def test_answers_kept_on_disk_serve_the_next_run_until_their_files_change(workspace, tmp_path):
    # Found or not: an unknown name depends on the directories imports are searched in.
    from gradguard.answers import AnswerStore

    project = workspace / "project"
    (project / "disk").mkdir(exist_ok=True)
    (project / "disk" / "nets.py").write_text(MODELS)
    path = str(project / "disk" / "train.py")
    roots = {"extra_paths": [str(workspace / "site")], "timeout": 60.0}
    with JediResolver(str(project), store=AnswerStore(tmp_path), **roots) as first:
        assert first.classify(".nets.Net", path) is SymbolKind.MODULE_CLASS
        assert first.classify("thirdparty_opt.Lamb", path) is SymbolKind.OPTIMIZER_CLASS
        assert first.classify(".nets.Missing", path) is None
        assert first.jedi_queries == 3
    with JediResolver(str(project), store=AnswerStore(tmp_path), **roots) as second:
        assert second.classify(".nets.Net", path) is SymbolKind.MODULE_CLASS
        assert second.classify("thirdparty_opt.Lamb", path) is SymbolKind.OPTIMIZER_CLASS
        assert second.classify(".nets.Missing", path) is None
        assert second.jedi_queries == 0  # all three from disk
    # A module added beside the asking file: the name it could not find may exist now.
    (project / "disk" / "more.py").write_text("x = 1\n")
    later = time.time_ns() + 10**9
    os.utime(project / "disk", ns=(later, later))
    with JediResolver(str(project), store=AnswerStore(tmp_path), **roots) as again:
        assert again.classify(".nets.Missing", path) is None
        assert again.classify(".nets.Net", path) is SymbolKind.MODULE_CLASS
        assert again.jedi_queries == 1  # the unknown name only
    nets = project / "disk" / "nets.py"
    nets.write_text(MODELS.replace("class Net(nn.Module)", "class Net"))
    os.utime(nets, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    with JediResolver(str(project), store=AnswerStore(tmp_path), **roots) as third:
        assert third.classify(".nets.Net", path) is not SymbolKind.MODULE_CLASS
        assert third.jedi_queries == 1  # the file changed: the kept answer no longer counts


def test_an_absolute_name_is_asked_once_unless_a_directory_shadows_it(workspace):
    project = workspace / "project"
    asking = []
    for name in ("share_a", "share_b", "share_c"):
        (project / name).mkdir(exist_ok=True)
        asking.append(str(project / name / "train.py"))
    # share_c holds its own thirdparty_opt: jedi may resolve the name differently there.
    (project / "share_c" / "thirdparty_opt.py").write_text("class Lamb:\n    pass\n")
    with JediResolver(str(project), extra_paths=[str(workspace / "site")], timeout=60.0) as fresh:
        kinds = [fresh.classify("thirdparty_opt.Lamb", path) for path in asking]
        assert kinds[:2] == [SymbolKind.OPTIMIZER_CLASS] * 2
        assert fresh.jedi_queries == 2  # share_a and share_b shared one answer; share_c its own
        assert fresh.classify(".models.Net", asking[0]) is None  # relative: per directory
        assert fresh.classify(".models.Net", asking[1]) is None
        assert fresh.jedi_queries == 4


def test_second_call_does_not_hit_jedi(resolver, workspace, monkeypatch):
    path = _train(workspace)
    resolver.classify("models.build_model", path)
    resolver.classify("models.missing", path)
    scripts = []
    original = resolver._script

    def counting(code, script_path):
        scripts.append(code)
        return original(code, script_path)

    monkeypatch.setattr(resolver, "_script", counting)
    before = resolver.jedi_queries
    for _ in range(3):
        assert resolver.classify("models.build_model", path) is SymbolKind.MODULE_FACTORY
        assert resolver.classify("models.missing", path) is None
    assert resolver.jedi_queries == before
    assert scripts == []


def test_changed_defining_file_invalidates(resolver, workspace):
    project = workspace / "project"
    mutable = project / "mutable.py"
    mutable.write_text("from torch import nn\n\n\nclass Thing(nn.Module):\n    pass\n")
    path = _train(workspace)
    assert resolver.classify("mutable.Thing", path) is SymbolKind.MODULE_CLASS
    before = resolver.jedi_queries
    assert resolver.classify("mutable.Thing", path) is SymbolKind.MODULE_CLASS
    assert resolver.jedi_queries == before
    mutable.write_text("class Thing:\n    pass\n")
    later = time.time() + 5
    os.utime(mutable, (later, later))
    assert resolver.classify("mutable.Thing", path) is SymbolKind.OTHER
    assert resolver.jedi_queries == before + 1


def test_changed_base_class_file_invalidates(resolver, workspace):
    project = workspace / "project"
    (project / "base_mod.py").write_text(
        "from torch import nn\n\n\nclass Base(nn.Module):\n    pass\n"
    )
    (project / "derived_mod.py").write_text(
        "from base_mod import Base\n\n\nclass D(Base):\n    pass\n"
    )
    path = _train(workspace)
    assert resolver.classify("derived_mod.D", path) is SymbolKind.MODULE_CLASS
    (project / "base_mod.py").write_text("class Base:\n    pass\n")
    later = time.time() + 5
    os.utime(project / "base_mod.py", (later, later))
    assert resolver.classify("derived_mod.D", path) is SymbolKind.OTHER


# -- time bound --------------------------------------------------------------------------


def test_timeout_returns_none_then_the_cached_answer(workspace):
    resolved: list[str] = []
    arrived = threading.Event()
    gate = threading.Event()

    def on_resolved(name: str) -> None:
        resolved.append(name)
        arrived.set()

    with JediResolver(
        str(workspace / "project"),
        timeout=0.05,
        mode="nonblocking",
        on_resolved=on_resolved,
    ) as quick:
        original = quick._compute

        def slow(qualified, path):
            gate.wait(30)
            return original(qualified, path)

        quick._compute = slow  # type: ignore[method-assign]
        path = _train(workspace)
        started = time.monotonic()
        assert quick.classify("models.Net", path) is None
        assert quick.classify("models.Net", path) is None  # still running: not queued twice
        assert time.monotonic() - started < 5
        gate.set()
        assert arrived.wait(60)
        assert resolved == ["models.Net"]
        assert quick.classify("models.Net", path) is SymbolKind.MODULE_CLASS
        assert quick.jedi_queries == 1


def test_jedi_errors_are_logged_and_unknown(workspace, caplog):
    with JediResolver(str(workspace / "project"), timeout=30) as broken:

        def explode(code, path):
            raise RuntimeError("boom")

        broken._script = explode  # type: ignore[method-assign]
        with caplog.at_level("ERROR", logger="gradguard.resolver"):
            assert broken.classify("models.Net", _train(workspace)) is None
        assert any("boom" in (r.exc_text or "") for r in caplog.records)


def test_warm_up(resolver):
    assert resolver.warm_up(timeout=60)


# -- deny list ---------------------------------------------------------------------------


def test_default_deny_list_answers_at_once(resolver, workspace):
    assert "transformers" in DEFAULT_DENY
    before = resolver.jedi_queries
    assert resolver.classify("transformers.AutoModel", _train(workspace)) is None
    assert resolver.classify("tensorflow.keras.Model", _train(workspace)) is None
    assert resolver.jedi_queries == before


def test_deny_list_is_configurable_and_enforced_inside_jedi(workspace):
    project = workspace / "project"
    (project / "uses_huge.py").write_text(
        "import hugepkg\n\n\nclass Mine(hugepkg.Big):\n    pass\n"
    )
    site = [str(workspace / "site")]
    path = _train(workspace)
    with JediResolver(str(project), extra_paths=site, timeout=60) as allowed:
        assert allowed.classify("hugepkg.Big", path) is SymbolKind.MODULE_CLASS
        assert allowed.classify("uses_huge.Mine", path) is SymbolKind.MODULE_CLASS
    with JediResolver(str(project), extra_paths=site, timeout=60, deny={"hugepkg"}) as denied:
        assert denied.classify("hugepkg.Big", path) is None
        assert denied.jedi_queries == 0
        # jedi does not follow the import of the denied package from workspace code.
        assert denied.classify("uses_huge.Mine", path) is SymbolKind.OTHER
        assert denied.classify("thirdparty_opt.Lamb", path) is SymbolKind.OPTIMIZER_CLASS


def test_relative_names_are_never_denied(workspace):
    with JediResolver(str(workspace / "project"), timeout=60, deny={"models"}) as denied:
        assert denied.classify(".models.Net", _pkg_train(workspace)) is SymbolKind.MODULE_CLASS


def test_bad_mode_is_rejected(workspace):
    with pytest.raises(ValueError):
        JediResolver(str(workspace / "project"), mode="sometimes")  # type: ignore[arg-type]


def test_fixture_sources_parse():
    for text in (MODELS, THIRD_PARTY, HUGE, TRAIN_ABSOLUTE, TRAIN_RELATIVE, LAYERS):
        ast.parse(text)


def test_probe_snippets_do_not_shadow_the_real_file(resolver, workspace):
    # The synthetic snippet must not replace train.py in parso's in-memory cache:
    # a later query that imports train.py must still see its real contents.
    assert resolver.classify(".models.Net", _pkg_train(workspace)) is SymbolKind.MODULE_CLASS
    other = str(workspace / "project" / "pkg" / "other.py")
    assert resolver.classify(".train.Net", other) is SymbolKind.MODULE_CLASS
    assert resolver.classify(".train.built", other) is SymbolKind.OTHER


def test_unknown_name_is_reasked_when_its_module_changes(resolver, workspace):
    growing = workspace / "project" / "growing.py"
    growing.write_text("x = 1\n")
    path = _train(workspace)
    assert resolver.classify("growing.Later", path) is None
    before = resolver.jedi_queries
    assert resolver.classify("growing.Later", path) is None
    assert resolver.jedi_queries == before  # cached while nothing changed
    growing.write_text("from torch import nn\n\n\nclass Later(nn.Module):\n    pass\n")
    later = time.time() + 5
    os.utime(growing, (later, later))
    assert resolver.classify("growing.Later", path) is SymbolKind.MODULE_CLASS


def test_clear_cache_drops_answers_and_parse_trees(resolver, workspace):
    path = _train(workspace)
    assert resolver.classify("models.Net", path) is SymbolKind.MODULE_CLASS
    before = resolver.jedi_queries
    resolver.clear_cache(parse_trees=True)
    assert resolver.classify("models.Net", path) is SymbolKind.MODULE_CLASS
    assert resolver.jedi_queries == before + 1


def test_standard_library_names_skip_jedi_unless_shadowed(resolver, workspace):
    path = _train(workspace)
    before = resolver.jedi_queries
    assert resolver.classify("os.path.join", path) is SymbolKind.OTHER
    assert resolver.classify("collections.abc.Mapping", path) is SymbolKind.OTHER
    assert resolver.jedi_queries == before
    # A workspace module named like a standard-library one is resolved for real.
    (workspace / "project" / "profile.py").write_text(
        "from torch import nn\n\n\nclass Profiled(nn.Module):\n    pass\n"
    )
    assert resolver.classify("profile.Profiled", path) is SymbolKind.MODULE_CLASS
    assert resolver.jedi_queries == before + 1


def test_blocking_mode_does_not_wait_behind_a_stalled_query(workspace):
    gate = threading.Event()
    with JediResolver(str(workspace / "project"), timeout=0.2) as blocking:
        original = blocking._compute

        def slow_for_net(qualified, path):
            if qualified == "models.Net":
                gate.wait(30)
            return original(qualified, path)

        blocking._compute = slow_for_net  # type: ignore[method-assign]
        path = _train(workspace)
        assert blocking.classify("models.Net", path) is None  # timed out after 0.2 s
        started = time.monotonic()
        assert blocking.classify("models.Plain", path) is None  # queued, not waited for
        assert time.monotonic() - started < 0.15
        gate.set()
        assert blocking.warm_up(timeout=60)  # runs after both queued queries
        assert blocking.classify("models.Net", path) is SymbolKind.MODULE_CLASS
        assert blocking.classify("models.Plain", path) is SymbolKind.OTHER


def test_a_name_jedi_could_not_find_is_asked_again_once_its_module_appears(tmp_path):
    from gradguard.answers import AnswerStore

    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "sub" / "__init__.py").write_text("")
    asking = str(root / "app" / "main.py")
    store = AnswerStore(tmp_path / "answers")
    with JediResolver(str(root), timeout=60.0, negative_ttl=0.0, store=store) as first:
        assert first.classify("pkg.sub.mod.Net", asking) is None
        (root / "pkg" / "sub" / "mod.py").write_text(
            "import torch\nclass Net(torch.nn.Module):\n    pass\n"
        )
        later = time.time_ns() + 10**9
        os.utime(root / "pkg" / "sub", ns=(later, later))
        # pkg/sub, where the module could appear, is one of the answer's dependencies.
        assert first.classify("pkg.sub.mod.Net", asking) is SymbolKind.MODULE_CLASS
    (root / "pkg" / "sub" / "mod.py").unlink()
    later += 10**9
    os.utime(root / "pkg" / "sub", ns=(later, later))
    with JediResolver(str(root), timeout=60.0, store=store) as cli:
        assert cli.classify("pkg.sub.mod.Gone", asking) is None
        assert cli.jedi_queries == 1
    with JediResolver(str(root), timeout=60.0, store=store) as next_run:
        assert next_run.classify("pkg.sub.mod.Gone", asking) is None
        assert next_run.jedi_queries == 0  # the unknown name, kept on disk for the CLI
    with JediResolver(str(root), timeout=0.0, store=store, mode="nonblocking") as editor:
        editor.classify("pkg.sub.mod.Gone", asking)
        editor.warm_up(timeout=60.0)  # the worker has answered once this returns
        assert editor.jedi_queries == 1  # the editor asks again: the user may be writing it


def test_parse_trees_in_memory_stay_bounded_and_answers_stay_right(tmp_path):
    # A workspace of many modules, as a project with one file per model/optimizer:
    # every answer makes jedi parse another module.
    kinds = {}
    for index in range(12):
        if index % 3 == 0:
            body = f"from torch import nn\n\n\nclass Net{index}(nn.Module):\n    pass\n"
            kinds[f"net{index}.Net{index}"] = SymbolKind.MODULE_CLASS
        elif index % 3 == 1:
            body = f"import torch\n\n\nclass Opt{index}(torch.optim.Optimizer):\n    pass\n"
            kinds[f"opt{index}.Opt{index}"] = SymbolKind.OPTIMIZER_CLASS
        else:
            body = f"class Plain{index}:\n    pass\n"
            kinds[f"plain{index}.Plain{index}"] = SymbolKind.OTHER
        (tmp_path / f"{list(kinds)[-1].split('.')[0]}.py").write_text(body)
    train = tmp_path / "train.py"
    train.write_text("".join(f"from {q.split('.')[0]} import {q.split('.')[1]}\n" for q in kinds))
    limit = 3
    with JediResolver(str(tmp_path), timeout=60.0, max_parsed_modules=limit) as bounded:
        assert bounded.warm_up(timeout=120.0)
        warm = jedi_memory.parsed_count()
        for qualified, kind in kinds.items():
            assert bounded.classify(qualified, str(train)) is kind
            assert jedi_memory.parsed_count() <= warm + limit
        assert bounded.parse_tree_trims >= 2
        # After the trims, jedi re-reads dropped trees (from parso's disk cache) and
        # still answers every name the same.
        bounded.clear_cache()
        before = bounded.jedi_queries
        assert {q: bounded.classify(q, str(train)) for q in kinds} == kinds
        assert bounded.jedi_queries == before + len(kinds)
        assert jedi_memory.parsed_count() <= warm + limit
