"""What hovers say about variables: optimizers and the models they were built from.

Built lazily from a cached snapshot (on a worker thread, with ``ast`` and the
engine's own indexes), never by re-running the rules: what an optimizer will
not train comes from the snapshot's GG102 findings.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import OptimizerIndex
from gradguard.analysis.resolution import SymbolKind
from gradguard.engine import parse
from gradguard.findings import Finding, Position, Span
from gradguard.lsp.bindings import binding_scope
from gradguard.lsp.held import built_model, held_here, held_models
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import ModuleObject, OptimizerObject
from gradguard.source import SourceFile

if TYPE_CHECKING:
    from gradguard.lsp.snapshot import Snapshot

log = logging.getLogger(__name__)

STALE_OPTIMIZER = "GG102"
#: The key of a snapshot's hover index among its derived values.
INDEX = "symbols"


@dataclass(frozen=True)
class Replacement:
    what: str  # ``model.fc``, or the call that replaces it
    line: int  # 0-based program line


@dataclass(frozen=True)
class OptimizerInfo:
    name: str
    line: int
    constructor: str  # ``torch.optim.SGD``
    params_text: str  # ``model.parameters()``
    models: tuple[str, ...]
    replacements: tuple[Replacement, ...] = ()
    #: The scope whose bindings its name refers to, and its call (where the names
    #: of its models are looked up).
    scope: ast.AST | None = field(default=None, compare=False, repr=False)
    call: ast.AST | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    line: int
    class_text: str  # the callee as written: ``Net``, ``nn.Linear``, ``make_model``
    qualified: str | None  # through imports: ``models.Net``, ``torch.nn.Linear``
    local_class_line: int | None  # the class is defined in this file, at this line
    optimizers: tuple[OptimizerInfo, ...] = ()
    # False: an imported class jedi has not classified yet (the hover asks again).
    confirmed: bool = True
    #: MODULE_FACTORY: the callee is a function that returns a module, not a class.
    kind: SymbolKind | None = None
    #: The class a factory returns, when this file shows it (None: not known).
    returned: str | None = None
    factory_line: int | None = None  # a same-file factory's ``def`` line
    scope: ast.AST | None = field(default=None, compare=False, repr=False)
    #: The call that built it (the allocation site the semantic model names).
    call: ast.AST | None = field(default=None, compare=False, repr=False)
    #: The allocation sites of the modules it holds (inside a factory for one).
    sites: frozenset[ast.AST] = field(default=frozenset(), compare=False, repr=False)


@dataclass
class SymbolIndex:
    source: SourceFile
    # The analysed file's facts (tree, parent map, indexes); None when it has none
    # (over max-file-bytes, unparsable, nested too deeply): then the index is empty.
    facts: ModuleFacts | None = field(default=None, repr=False)
    optimizers: dict[str, list[OptimizerInfo]] = field(default_factory=dict)
    models: dict[str, list[ModelInfo]] = field(default_factory=dict)
    _statements: dict[int, list[ast.stmt]] | None = field(default=None, repr=False)
    _names: dict[int, list[ast.Name | ast.Attribute]] | None = field(default=None, repr=False)
    #: The semantic model of ``facts`` the hovers ask (``gradguard.lsp.held``).
    semantic: SemanticModel | None = field(default=None, repr=False)

    @classmethod
    def build(cls, snapshot: Snapshot) -> SymbolIndex:
        facts = snapshot.kept.facts or cls._facts_for(snapshot)
        if facts is None:
            return cls(snapshot.source)
        index = cls(facts.source, facts)
        index._collect_models(facts)
        index._collect_optimizers(facts, snapshot.result.findings)
        return index

    @staticmethod
    def _facts_for(snapshot: Snapshot) -> ModuleFacts | None:
        """Facts built again when the analysis's own are gone (or were never needed)."""
        source = snapshot.source
        max_bytes = snapshot.context.config.max_file_bytes
        if len(source.text.encode("utf-8", "surrogatepass")) > max_bytes:
            return None  # skipped by the analysis too (max-file-bytes)
        tree = parse(source)
        if not isinstance(tree, ast.Module):
            return None
        try:
            return ModuleFacts(source, tree, snapshot.context.resolver)
        except RecursionError:  # nested too deeply to analyse, as in the engine
            return None

    # -- building -------------------------------------------------------------------

    def _collect_optimizers(self, facts: ModuleFacts, findings: list[Finding]) -> None:
        stale = [f for f in findings if f.code == STALE_OPTIMIZER]
        for creation in OptimizerIndex(facts).creations:
            if creation.target is None:
                continue
            line = creation.statement.node.lineno - 1
            replacements = tuple(
                self._replacement(f)
                for f in stale
                if any(r.span.start.line == line for r in f.related)
            )
            info = OptimizerInfo(
                name=creation.target,
                line=line,
                constructor=facts.callee_qualname(creation.call)
                or self.source.node_text(creation.call.func),
                params_text=self.source.node_text(creation.params) if creation.params else "",
                models=tuple(sorted(creation.models)),
                replacements=replacements,
                scope=binding_scope(facts, creation.call, creation.target),
                call=creation.call,
            )
            self.optimizers.setdefault(creation.target, []).append(info)
        self._attach_holders(facts)

    def _attach_holders(self, facts: ModuleFacts) -> None:
        """Each model binding lists the optimizers built from *its* parameters: a model
        name an optimizer mentions refers to the binding in that optimizer's scope."""
        holders: dict[int, list[OptimizerInfo]] = {}
        for infos in self.optimizers.values():
            for info in infos:
                for owner in info.models:
                    for model in self._models_named_by(facts, owner, info):
                        holders.setdefault(id(model), []).append(info)
                if not info.models:  # `SGD(params)`: the semantic model follows `params`
                    for model in held_models(self, info):
                        holders.setdefault(id(model), []).append(info)
        for name, models in self.models.items():
            self.models[name] = [
                dataclasses.replace(m, optimizers=tuple(dict.fromkeys(holders.get(id(m), ()))))
                for m in models
            ]

    def _models_named_by(
        self, facts: ModuleFacts, owner: str, optimizer: OptimizerInfo
    ) -> Iterable[ModelInfo]:
        """The model binding whose parameters ``owner`` (``model``, ``model.fc``) draws."""
        assert optimizer.call is not None
        parts = owner.split(".")
        for length in range(len(parts), 0, -1):
            name = ".".join(parts[:length])
            scope = binding_scope(facts, optimizer.call, name)
            found = self._binding(name, scope, optimizer.line)
            if found is not None:
                yield found
                return

    def _replacement(self, finding: Finding) -> Replacement:
        line = finding.span.start.line
        statement = self._statement_at(finding.span.start)
        what = None
        if statement is not None:
            targets = flow.assigned_targets(statement)
            if len(targets) == 1:
                what = flow.dotted_name(targets[0])
            if what is None and isinstance(statement, ast.Expr):
                what = self.source.node_text(statement.value)
        if what is None:
            what = self.source.segment(finding.span).splitlines()[0].strip()
        return Replacement(what, line)

    def _statement_at(self, position: Position) -> ast.stmt | None:
        best: ast.stmt | None = None
        if self._statements is None:  # one pass per index, not one per finding
            by_line: dict[int, list[ast.stmt]] = {}
            for node in self._nodes():
                if isinstance(node, ast.stmt) and not isinstance(node, flow.SCOPE_TYPES):
                    by_line.setdefault(node.lineno - 1, []).append(node)
            self._statements = by_line
        for node in self._statements.get(position.line, ()):
            span = self.source.span_of(node)
            if (
                span.start.line == position.line
                and span.contains(position)
                and (best is None or span.start >= self.source.span_of(best).start)
            ):
                best = node
        return best

    def _nodes(self) -> Iterable[ast.AST]:
        """Every node but the module (the facts' parent map lists them all)."""
        return self.facts.parents if self.facts is not None else ()

    def _collect_models(self, facts: ModuleFacts) -> None:
        """Each ``name = <call>`` whose call the semantic model shows builds a module."""
        for node in facts.nodes_of_types(ast.Assign, ast.AnnAssign):
            assert isinstance(node, (ast.Assign, ast.AnnAssign))
            targets = flow.assigned_targets(node)
            if not isinstance(node.value, ast.Call) or len(targets) != 1:
                continue
            name = flow.dotted_name(targets[0])
            built = built_model(self, node.value) if name is not None else None
            if name is None or built is None:
                continue
            func = built.call.func
            local = facts.classes.get(func.id) if isinstance(func, ast.Name) else None
            factory = facts.functions.get(func.id) if isinstance(func, ast.Name) else None
            self.models.setdefault(name, []).append(
                ModelInfo(
                    name=name,
                    line=node.lineno - 1,
                    class_text=self.source.node_text(func),
                    qualified=facts.qualify(func),
                    local_class_line=local.node.lineno - 1 if local else None,
                    confirmed=built.kind is not None,
                    kind=built.kind,
                    returned=built.returned,
                    factory_line=factory.lineno - 1 if factory and not local else None,
                    scope=binding_scope(facts, node, name),
                    call=built.call,
                    sites=built.sites,
                )
            )
        for models in self.models.values():
            models.sort(key=lambda m: m.line)  # ast.walk order is not line order

    # -- lookup -----------------------------------------------------------------------

    def name_at(self, position: Position) -> tuple[str, Span, ast.AST] | None:
        """The dotted variable name under the cursor (``optimizer``, ``self.opt``), its
        span and node."""
        if self.facts is None:
            return None
        best: tuple[str, Span, ast.AST] | None = None
        for node in self._names_on(position.line):
            span = self.source.span_of(node)
            if not span.contains(position):
                continue
            if isinstance(node, ast.Attribute):
                # Only when the cursor is on the attribute's own name.
                attr_start = Position(span.end.line, span.end.column - len(node.attr))
                if position < attr_start:
                    continue
            name = flow.dotted_name(node)
            if name is None:
                continue
            if best is None or span.start >= best[1].start:
                best = (name, span, node)
        return best

    def _names_on(self, line: int) -> list[ast.Name | ast.Attribute]:
        """Names and attributes whose text covers ``line`` (0-based), indexed once."""
        if self._names is None:
            by_line: dict[int, list[ast.Name | ast.Attribute]] = {}
            for node in self._nodes():
                if isinstance(node, (ast.Name, ast.Attribute)):
                    last = node.end_lineno or node.lineno
                    for covered in range(node.lineno - 1, last):
                        by_line.setdefault(covered, []).append(node)
            self._names = by_line
        return self._names.get(line, [])

    @staticmethod
    def _nearest(items: list, scope: ast.AST | None, line: int) -> object | None:
        """The binding in ``scope`` the line sees: the last one before it, else (a
        loop reaching back) the first one after it; never another scope's."""
        same = [i for i in items if i.scope is scope]
        before = [i for i in same if i.line <= line]
        return before[-1] if before else (same[0] if same else None)

    def _binding(self, name: str, scope: ast.AST | None, line: int) -> ModelInfo | None:
        found = self._nearest(self.models.get(name, []), scope, line)
        return found if isinstance(found, ModelInfo) else None

    def optimizer(self, name: str, node: ast.AST, line: int) -> OptimizerInfo | None:
        """The optimizer ``name`` holds at ``node``: its binding, else the one the semantic
        model says it holds there (an alias, ``o = opt``)."""
        if self.facts is None:
            return None
        scope = binding_scope(self.facts, node, name)
        found = self._nearest(self.optimizers.get(name, []), scope, line)
        if isinstance(found, OptimizerInfo):
            return found
        return held_here(self, node, OptimizerObject, self.optimizers_by_call())

    def model(self, name: str, node: ast.AST, line: int) -> ModelInfo | None:
        """What the model variable ``name`` at ``node`` holds: the one lookup a hover
        makes about a model's value (the semantic model will answer it instead)."""
        if self.facts is None:
            return None
        found = self._binding(name, binding_scope(self.facts, node, name), line)
        return found or held_here(self, node, ModuleObject, self.models_by_call())

    def optimizers_by_call(self) -> dict[ast.AST, OptimizerInfo]:
        return {i.call: i for infos in self.optimizers.values() for i in infos if i.call}

    def models_by_call(self) -> dict[ast.AST, ModelInfo]:
        """Each binding by its call, and by the allocation sites of what it holds when no
        other binding holds them too (``model = make_model()``: the factory's ``Net()``)."""
        every = [m for models in self.models.values() for m in models]
        by_site: dict[ast.AST, list[ModelInfo]] = {}
        for model in every:
            for site in model.sites:
                by_site.setdefault(site, []).append(model)
        found = {site: models[0] for site, models in by_site.items() if len(models) == 1}
        found.update({m.call: m for m in every if m.call})
        return found


def index_of(snapshot: Snapshot) -> SymbolIndex:
    """The snapshot's hover index, built on first use (on a worker thread)."""
    return snapshot.derived.get(INDEX, lambda: SymbolIndex.build(snapshot))


def prebuild(snapshot: Snapshot) -> None:
    try:
        index_of(snapshot)
    except Exception:  # the hover builds it again and reports the failure
        log.debug("building the hover index of %s failed", snapshot.key, exc_info=True)
