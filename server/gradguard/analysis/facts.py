"""Per-file facts shared by the rules: classes, functions, modules and optimizers."""

from __future__ import annotations

import ast
import sys
import weakref
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from functools import cached_property
from typing import Any, TypeVar

from gradguard.analysis import flow, torchnames
from gradguard.analysis.classes import ClassInfo, derivation_asks, derives
from gradguard.analysis.imports import ImportTable
from gradguard.analysis.memo import attributed, memoised
from gradguard.analysis.resolution import NoResolver, SymbolKind, SymbolResolver
from gradguard.source import SourceFile

_Built = TypeVar("_Built")

# Top-level packages that hold no models or optimizers GradGuard needs to know about:
# asking jedi about them would only cost time.
_NEVER_RESOLVED = frozenset(
    {
        "torch",
        "numpy",
        "np",
        "pandas",
        "scipy",
        "sklearn",
        "matplotlib",
        "tqdm",
        "PIL",
        "cv2",
        "wandb",
        "tensorboard",
        "yaml",
        "omegaconf",
        "hydra",
        "einops",
        "requests",
        "pytest",
    }
)


#: What ``ModuleFacts`` computes from the tree alone (never asking the resolver): shared
#: by :meth:`ModuleFacts.with_resolver`, so the statement infos a rule holds are the same
#: objects in both.
_RESOLVER_FREE = frozenset(
    {
        "source",
        "tree",
        "parents",
        "nodes_by_type",
        "imports",
        "functions",
        "walk_order",
        "names_by_id",
        "scopes",
        "scope_statements",
        "_statements_by_scope",
        "_statement_index",
    }
)


class ModuleFacts:
    """Everything rules ask about one parsed file."""

    def __init__(
        self,
        source: SourceFile,
        tree: ast.Module,
        resolver: SymbolResolver | None = None,
    ) -> None:
        self.source = source
        self.tree = tree
        source.top_level_lines = [line_range(stmt) for stmt in tree.body]
        self.resolver: SymbolResolver = resolver or NoResolver()
        self.parents: dict[ast.AST, ast.AST]
        self.nodes_by_type: dict[type, list[ast.AST]]
        self.parents, self.nodes_by_type = index_tree(tree)
        self.imports = ImportTable(tree, self.nodes_of_types(ast.Import, ast.ImportFrom))
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {
            stmt.name: stmt
            for stmt in tree.body
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        self.classes: dict[str, ClassInfo] = {}
        self._shared: dict[Hashable, Any] = {}
        self._collect_classes()
        from gradguard.semantic.reads import ReadLog, recording_lookups  # the editor's reads

        if ReadLog.of(self) is not None:
            self.functions, self.classes = recording_lookups(self)

    def with_resolver(self, resolver: SymbolResolver) -> ModuleFacts:
        """The same file's facts answered by ``resolver``: the tree and its indexes
        shared (they never ask), every judgement that may ask (class kinds, the
        semantic model, call kinds) made again on first use (analysis.demand's probe)."""
        self.__dict__.setdefault("_statements_by_scope", {})  # filled by either, shared
        self.__dict__.setdefault("_statement_index", {})
        other = object.__new__(ModuleFacts)
        other.__dict__.update(
            (key, value) for key, value in self.__dict__.items() if key in _RESOLVER_FREE
        )
        other.resolver = resolver
        other._shared = {}
        owner = weakref.ref(other)
        other.classes = {
            name: ClassInfo(info.node, info.base_names, owner)
            for name, info in self.classes.items()
        }
        copies: list[ModuleFacts] = self.shared("copies", list)
        copies.append(other)  # released with these facts
        return other

    def mentions(self, word: str) -> bool:
        """Whether ``word`` occurs anywhere in the file's text (memoised): code whose
        spelling needs ``word`` cannot be in a file that does not mention it."""
        return self.shared(("mentions", word), lambda: word in self.source.searchable_text)

    def release(self) -> None:
        """Drop the shared analyses. They point back at these facts; breaking that cycle
        lets the tree be freed at once instead of by a full garbage collection (copies
        made by :meth:`with_resolver` too)."""
        for copy in self._shared.get("copies", ()):
            copy.release()
        self._shared.clear()

    def shared(self, key: Hashable, build: Callable[[], _Built]) -> _Built:
        """A per-file analysis built once and shared by the rules that ask for it.

        It lives exactly as long as these facts. (Module-level ``WeakKeyDictionary``
        caches leaked every file: their values held the facts, so the keys never died,
        and a 1,000-file check kept 500 MiB of trees alive and slowed every full GC.)
        """
        try:
            return self._shared[key]  # type: ignore[no-any-return]
        except KeyError:
            built = self._shared[key] = build()
            return built

    # -- names -----------------------------------------------------------------

    def qualify(self, expr: ast.AST) -> str | None:
        return self.imports.qualify(expr)

    def classify_import(self, qualified: str) -> SymbolKind | None:
        """Ask the resolver (jedi) about a name the file imports from elsewhere."""
        top = qualified.split(".", 1)[0]
        if top in _NEVER_RESOLVED or top in sys.stdlib_module_names:
            return None
        return self.resolver.classify(qualified, self.source.path)

    def asks_about(self, qualified: str) -> bool:
        """Whether :meth:`classify_import` would ask the resolver about ``qualified``."""
        if isinstance(self.resolver, NoResolver):
            return False
        top = qualified.split(".", 1)[0]
        return not (top in _NEVER_RESOLVED or top in sys.stdlib_module_names)

    # -- classes ---------------------------------------------------------------

    def _collect_classes(self) -> None:
        """Index the classes; what each is is judged when a rule asks (analysis.classes)."""
        owner = weakref.ref(self)
        for node in self.nodes_of(ast.ClassDef):  # in ast.walk order
            if isinstance(node, ast.ClassDef):
                bases = [self.qualify(b) or flow.dotted_name(b) or "" for b in node.bases]
                self.classes.setdefault(node.name, ClassInfo(node, bases, owner))

    def derives_from_module(self, info: ClassInfo) -> bool:
        return derives(info, self._headers, self._base_is_module)

    def derives_from_optimizer(self, info: ClassInfo) -> bool:
        return derives(info, self._headers, self._base_is_optimizer)

    @cached_property
    def _headers(self) -> dict[str, ClassInfo]:
        """The classes, for judging their kinds (the editor records header reads)."""
        from gradguard.semantic.reads import Headers, ReadLog

        log = ReadLog.of(self)
        return self.classes if log is None else Headers(self.classes, log)

    def _base_is_module(self, base: str) -> bool:
        if torchnames.is_module_base_qualname(base):
            return True
        return self.classify_import(base) is SymbolKind.MODULE_CLASS if "." in base else False

    def _base_is_optimizer(self, base: str) -> bool:
        if torchnames.is_optimizer_base_qualname(base):
            return True
        return self.classify_import(base) is SymbolKind.OPTIMIZER_CLASS if "." in base else False

    def class_statements(self, node: ast.ClassDef) -> list[ast.stmt]:
        """The assignments (``=``, annotated, augmented) of a class body and its methods,
        not of nested classes or lambdas, in ``flow.walk_local_class`` order: found
        once per class, visiting statements only."""
        return self.shared(("class_statements", node), lambda: flow.class_assignments(node))

    def _registrations_in(self, node: ast.ClassDef) -> Iterator[ast.Call]:
        """The ``register_parameter("name", value)`` calls ``flow.walk_local_class(node)``
        reaches, found from the node index (they are rare)."""
        calls = self.shared(
            "register_parameter calls",
            lambda: [c for c in self.nodes_of(ast.Call) if _is_register_parameter(c)],
        )
        for call in calls:
            if self._walked_from(node, call):
                yield call  # type: ignore[misc]

    def _walked_from(self, node: ast.ClassDef, inner: ast.AST) -> bool:
        """Whether ``flow.walk_local_class(node)`` reaches ``inner``: below a statement
        of the body, through no lambda and no class but one directly in the body."""
        child, parent = inner, self.parents.get(inner)
        while parent is not None and parent is not node:
            if isinstance(parent, ast.Lambda):
                return False
            if isinstance(parent, ast.ClassDef) and not (
                self.parents.get(parent) is node and any(s is parent for s in node.body)
            ):
                return False
            child, parent = parent, self.parents.get(parent)
        return parent is node and any(s is child for s in node.body)

    def class_members(self, info: ClassInfo) -> tuple[set[str], dict[str, list[ast.Call]]]:
        """A module class's Parameter attributes, and per other ``self.<attr>`` the calls
        assigned to it in order (the submodule candidates), without asking jedi."""
        parameters: set[str] = set()
        candidates: dict[str, list[ast.Call]] = {}
        for node in self.class_statements(info.node):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    attr = self_attribute(target)
                    if not (attr and isinstance(node.value, ast.Call)):
                        continue
                    if self.is_parameter_call(node.value):
                        parameters.add(attr)
                    else:
                        candidates.setdefault(attr, []).append(node.value)
        for call in self._registrations_in(info.node):
            value = call.args[1]
            if not (isinstance(value, ast.Constant) and value.value is None):
                parameters.add(str(call.args[0].value))  # type: ignore[attr-defined]
        return parameters, candidates

    @attributed(lambda facts: facts)
    def class_info_of(self, node: ast.AST) -> ClassInfo | None:
        """The module/optimizer class that lexically encloses ``node``."""
        for parent in self.ancestors(node):
            if isinstance(parent, ast.ClassDef):
                return self.classes.get(parent.name)
        return None

    # -- calls -----------------------------------------------------------------

    def callee_qualname(self, call: ast.Call) -> str | None:
        return self.qualify(call.func)

    def is_parameter_call(self, call: ast.Call) -> bool:
        """``nn.Parameter(...)`` (however imported)."""
        name = self.qualify(call.func)
        return name in ("torch.nn.Parameter", "torch.nn.parameter.Parameter")

    @attributed(lambda facts: facts)
    def optimizer_call_known(self, call: ast.Call) -> bool | None:
        """:meth:`is_optimizer_call` when the file alone (or an answer already given)
        tells; None when the resolver would have to be asked."""
        func = call.func
        if isinstance(func, ast.Name) and func.id in self.classes:
            info = self._headers[func.id]
            if derivation_asks(info, self._headers, self._base_needs_answer):
                return None
        elif not (isinstance(func, ast.Name) and func.id in self.functions):
            qualified = self.qualify(func)
            if qualified is not None and self._qualname_needs_answer(call, qualified):
                return None
        return self.is_optimizer_call(call)

    def _base_needs_answer(self, base: str) -> bool:
        return (
            "." in base
            and not torchnames.is_module_base_qualname(base)
            and not torchnames.is_optimizer_base_qualname(base)
            and self.asks_about(base)
        )

    def _qualname_needs_answer(self, call: ast.Call, qualified: str) -> bool:
        if qualified in self.__dict__.get("_qualname_kinds", ()):
            return False  # answered earlier in this analysis
        if qualified.startswith("torch.") or not _may_be_optimizer_class(call, qualified):
            return False
        known = (
            torchnames.is_optimizer_qualname(qualified)
            or torchnames.is_module_class_qualname(qualified)
            or torchnames.is_model_factory_qualname(qualified)
        )
        return not known and self.asks_about(qualified)

    def may_build_optimizer(self, call: ast.Call) -> bool:
        """``optimizer_call_known(call) is not False``, answered at once for the calls of
        most files: a callee that names no import (``self.proj(x)``: never an optimizer),
        a ``torch.`` name (known without jedi), a lowercase or argument-less call."""
        func = call.func
        own = isinstance(func, ast.Name) and (func.id in self.classes or func.id in self.functions)
        if not own:
            qualified = self.qualify(func)
            if qualified is None:
                return False
            if qualified.startswith("torch."):
                return self._kind_of_qualname(qualified) is SymbolKind.OPTIMIZER_CLASS
            if not _may_be_optimizer_class(call, qualified):
                return False  # a lowercase name or no arguments: never asked, never one
        return self.optimizer_call_known(call) is not False

    @attributed(lambda facts: facts)
    def is_optimizer_call(self, call: ast.Call) -> bool:
        # ``callee_kind`` without its costly branch: a call of one of the file's own
        # functions may build a module, never an optimizer class.
        func = call.func
        if isinstance(func, ast.Name) and func.id in self.classes:
            return self.callee_kind(func) is SymbolKind.OPTIMIZER_CLASS
        if isinstance(func, ast.Name) and func.id in self.functions:
            return False
        qualified = self.qualify(func)
        if qualified is None:
            return False
        if not qualified.startswith("torch.") and not _may_be_optimizer_class(call, qualified):
            return False
        return self._kind_of_qualname(qualified) is SymbolKind.OPTIMIZER_CLASS

    @attributed(lambda facts: facts)
    def is_module_call(self, call: ast.Call) -> bool:
        """A call that returns a new ``nn.Module`` (a layer, a model class, a factory)."""
        return self.callee_kind(call.func) in (SymbolKind.MODULE_CLASS, SymbolKind.MODULE_FACTORY)

    @attributed(lambda facts: facts)
    def callee_kind(self, func: ast.AST) -> SymbolKind | None:
        if isinstance(func, ast.Name) and func.id in self.classes:
            info = self._headers[func.id]
            if info.is_module:
                return SymbolKind.MODULE_CLASS
            if info.is_optimizer:
                return SymbolKind.OPTIMIZER_CLASS
            return SymbolKind.OTHER
        if isinstance(func, ast.Name) and func.id in self.functions:
            return SymbolKind.MODULE_FACTORY if self.returns_module(func.id) else None
        qualified = self.qualify(func)
        if qualified is None:
            return None
        return self._kind_of_qualname(qualified)

    def _kind_of_qualname(self, qualified: str) -> SymbolKind | None:
        # One answer per name and analysis: every call of ``torch.zeros`` asks again.
        kinds: dict[str, SymbolKind | None] = self.__dict__.setdefault("_qualname_kinds", {})
        if qualified not in kinds:
            kinds[qualified] = self._kind_of_qualname_uncached(qualified)
        return kinds[qualified]

    def _kind_of_qualname_uncached(self, qualified: str) -> SymbolKind | None:
        if torchnames.is_optimizer_qualname(qualified):
            return SymbolKind.OPTIMIZER_CLASS
        if torchnames.is_module_class_qualname(qualified):
            return SymbolKind.MODULE_CLASS
        if torchnames.is_model_factory_qualname(qualified):
            return SymbolKind.MODULE_FACTORY
        if qualified.startswith("torch."):
            return None
        return self.classify_import(qualified)

    def returns_module(self, function_name: str) -> bool:
        """A same-file function one of whose ``return`` statements gives a module, as the
        semantic model follows it (``semantic.factories``)."""
        from gradguard.semantic.factories import returns_module  # the model reads facts

        function = self.functions.get(function_name)
        if function is None:
            return False
        cache: dict[str, bool] = self.__dict__.setdefault("_returns_module", {})
        return memoised(self, cache, function_name, lambda: returns_module(self, function))

    # -- node index ----------------------------------------------------------------

    def nodes_of(self, kind: type) -> list[ast.AST]:
        """The nodes of exactly this type in ``ast.walk(tree)`` order (the module aside)."""
        return self.nodes_by_type.get(kind, [])

    def nodes_of_types(self, *kinds: type) -> list[ast.AST]:
        """The nodes of exactly these types, merged in ``ast.walk(tree)`` order."""
        lists = [found for kind in kinds if (found := self.nodes_of(kind))]
        if len(lists) <= 1:
            return list(lists[0]) if lists else []
        return self.in_walk_order([node for found in lists for node in found])

    def in_walk_order(self, nodes: list[ast.AST]) -> list[ast.AST]:
        """``nodes`` sorted as ``ast.walk(tree)`` meets them. A few (a file's imports) are
        placed by their paths: numbering every node of the file costs 10% of a parse."""
        if len(nodes) <= _FEW_TO_PLACE and "walk_order" not in self.__dict__:
            return sorted(nodes, key=self._walk_key)
        return sorted(nodes, key=self.walk_order.__getitem__)

    def _walk_key(self, node: ast.AST) -> tuple[int, list[int]]:
        """Sorts like ``walk_order``: ``ast.walk`` is breadth first, so a node comes after
        every shallower one and, at one depth, in the order of its path of child indices."""
        path: list[int] = []
        child, parent = node, self.parents.get(node)
        while parent is not None:
            path.append(_child_index(parent, child))
            child, parent = parent, self.parents.get(parent)
        path.reverse()
        return len(path), path

    @cached_property
    def walk_order(self) -> dict[ast.AST, int]:
        """Each node's position in ``ast.walk(tree)`` (the module is 0)."""
        positions = range(1, len(self.parents) + 1)
        order: dict[ast.AST, int] = dict(zip(self.parents, positions, strict=True))
        order[self.tree] = 0
        return order

    @cached_property
    def calls_named(self) -> dict[str, list[ast.Call]]:
        """The calls ``name(...)`` and ``x.name(...)`` grouped by ``name``, in ``ast.walk``
        order: one pass over the calls for every rule that looks for a few names."""
        index: dict[str, list[ast.Call]] = {}
        for node in self.nodes_of(ast.Call):
            func = node.func  # type: ignore[attr-defined]
            if isinstance(func, ast.Attribute):
                index.setdefault(func.attr, []).append(node)  # type: ignore[arg-type]
            elif isinstance(func, ast.Name):
                index.setdefault(func.id, []).append(node)  # type: ignore[arg-type]
        return index

    @cached_property
    def names_by_id(self) -> dict[str, list[ast.Name]]:
        """Every ``ast.Name`` grouped by identifier, in ``ast.walk`` order."""
        index: dict[str, list[ast.Name]] = {}
        for node in self.nodes_of(ast.Name):
            assert isinstance(node, ast.Name)
            index.setdefault(node.id, []).append(node)
        return index

    # -- tree navigation ---------------------------------------------------------

    def ancestors(self, node: ast.AST):
        parent = self.parents.get(node)
        while parent is not None:
            yield parent
            parent = self.parents.get(parent)

    def enclosing_statement(self, node: ast.AST) -> ast.stmt | None:
        if isinstance(node, ast.stmt):
            return node
        for parent in self.ancestors(node):
            if isinstance(parent, ast.stmt):
                return parent
        return None

    def enclosing_function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        for parent in self.ancestors(node):
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return parent
        return None

    def enclosing_scope(self, node: ast.AST) -> flow.Scope:
        return self.enclosing_function(node) or self.tree

    @cached_property
    def scopes(self) -> list[flow.Scope]:
        """The same scopes as ``flow.scopes(self.tree)``, in the same order, from the index."""
        functions = self.nodes_of_types(ast.FunctionDef, ast.AsyncFunctionDef)
        return [self.tree, *functions]  # type: ignore[list-item]

    @cached_property
    def scope_statements(self) -> dict[ast.AST, list[flow.StatementInfo]]:
        return {scope: self.statements_of(scope) for scope in self.scopes}

    def scopes_holding(self, nodes: Iterable[ast.AST]) -> list[flow.Scope]:
        """The scopes (in ``scopes`` order) whose functions enclose any of ``nodes``: a
        superset of those whose statements hold them (a lambda's or class body's node
        counts for the function around it), found without listing any statements."""
        wanted = {self.enclosing_scope(node) for node in nodes}
        return [scope for scope in self.scopes if scope in wanted]

    def statements_of(self, scope: flow.Scope) -> list[flow.StatementInfo]:
        """One scope's statements, listed on first use (most questions concern one
        function, not all of them)."""
        listed: dict[ast.AST, list[flow.StatementInfo]] = self.__dict__.setdefault(
            "_statements_by_scope", {}
        )
        if scope not in listed:
            listed[scope] = flow.scope_statements(scope)
        return listed[scope]

    def statement_info(self, stmt: ast.stmt) -> flow.StatementInfo | None:
        # Looked up in a per-scope index (a scan of the scope's statements per call was
        # quadratic on long module-level scripts); the first info for the node, as the scan.
        scope = self.enclosing_scope(stmt)
        index = self._statement_index.get(scope)
        if index is None:
            index = {}
            for info in self.statements_of(scope):
                index.setdefault(info.node, info)
            self._statement_index[scope] = index
        return index.get(stmt)

    @cached_property
    def _statement_index(self) -> dict[ast.AST, dict[ast.AST, flow.StatementInfo]]:
        return {}

    def is_under_no_grad(self, stmt: ast.stmt) -> bool:
        info = self.statement_info(stmt)
        return info is not None and flow.is_under_no_grad(info, self.parents)


# Merges of up to this many nodes are placed by their paths (``ModuleFacts._walk_key``)
# rather than by numbering every node of the file (``walk_order``: 10% of a parse).
_FEW_TO_PLACE = 48


def _child_index(parent: ast.AST, child: ast.AST) -> int:
    """``child``'s position among ``parent``'s children, in ``ast.walk`` order."""
    index = 0
    for name in flow.CHILD_FIELDS[type(parent)]:
        value = getattr(parent, name, None)
        for item in value if isinstance(value, list) else [value]:
            if item is child:
                return index
            if isinstance(item, ast.AST):
                index += 1
    raise ValueError("not a child of its parent")


def line_range(stmt: ast.stmt) -> tuple[int, int]:
    """0-based first line (decorators included) and last line of a statement."""
    decorators = getattr(stmt, "decorator_list", None) or []
    first = min([stmt.lineno] + [d.lineno for d in decorators]) - 1
    return first, (stmt.end_lineno or stmt.lineno) - 1


def index_tree(tree: ast.AST) -> tuple[dict[ast.AST, ast.AST], dict[type, list[ast.AST]]]:
    """``{child: parent}`` for every node under ``tree``, in ``ast.walk`` order, and the
    same nodes grouped by exact type (each list in that order): one pass shared by the
    rules instead of an ``ast.walk`` per rule.

    The same mapping as ``{c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}``
    without the generators, and without the shared ``Load()``/operator singletons
    (``flow.CHILD_FIELDS``): it runs on every keystroke.
    """
    parents: dict[ast.AST, ast.AST] = {}
    by_type: dict[type, list[ast.AST]] = {}
    queue: deque[ast.AST] = deque([tree])
    pop, push, node_type = queue.popleft, queue.append, ast.AST
    fields_of = flow.CHILD_FIELDS.__getitem__
    while queue:
        node = pop()
        for name in fields_of(type(node)):
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, node_type):
                        parents[item] = node
                        push(item)
            elif isinstance(value, node_type):
                parents[value] = node
                push(value)
    for child in parents:
        kind = type(child)
        if kind in by_type:
            by_type[kind].append(child)
        else:
            by_type[kind] = [child]
    return parents, by_type


def self_attribute(target: ast.AST) -> str | None:
    """``attr`` for ``self.attr`` targets."""
    if (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    ):
        return target.attr
    return None


def _may_be_optimizer_class(call: ast.Call, qualified: str) -> bool:
    """Whether jedi is worth asking if this call of an imported name builds an
    optimizer: not for a lowercase name (class names are capitalised; a function is
    never an optimizer *class*) nor a call without arguments (an optimizer always
    receives its parameters). Four in five of jedi's questions on library code were
    about such calls."""
    if not (call.args or call.keywords):
        return False
    return qualified.rsplit(".", 1)[-1][:1].isupper()


def _is_register_parameter(node: ast.AST) -> bool:
    """``x.register_parameter("name", value)`` with a literal name."""
    return (
        isinstance(node, ast.Call)
        and flow.method_name(node) == "register_parameter"
        and len(node.args) >= 2
        and isinstance(node.args[0], ast.Constant)
    )
