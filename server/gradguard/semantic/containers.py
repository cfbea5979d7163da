"""Plain containers of layers and parameters stored on a module in ``__init__``.

``self.blocks = [nn.Linear(4, 4), ...]``, a dict of them, a dict of dicts of
``nn.Parameter`` (``self.experts[task][name] = nn.Parameter(...)``), a local list filled
and then stored: ``nn.Module`` registers none of what they hold. What an element is comes
from the callee's kind and, for names, from the definitions the model says reach it.
A container handed to other code, or whose items are registered by name or stored
elsewhere, may be only an index: it is left alone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from gradguard.analysis import flow, torchnames
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.limits import NAME_DEPTH
from gradguard.semantic.model import SemanticModel

# Calls that may receive a plain list of layers without registering or hiding them.
HARMLESS_CALLS = frozenset(
    {
        "len",
        "enumerate",
        "zip",
        "reversed",
        "iter",
        "list",
        "tuple",
        "sorted",
        "print",
        "isinstance",
        "range",
        "repr",
        "str",
    }
)
_FILL_METHODS = frozenset({"append", "extend", "insert"})


@dataclass(frozen=True)
class PlainContainer:
    shape: str  # list, tuple or dict
    kinds: frozenset[str | None]  # "module", "parameter", None (something else)
    fills: tuple[ast.AST, ...]  # the appends and item assignments that fill it
    inner: str | None  # the shape of the containers it holds (a dict of dicts), if any


def plain_container(
    model: SemanticModel, class_node: ast.ClassDef, stmt: ast.Assign, attr: str, init: ast.AST
) -> PlainContainer | None:
    """What ``self.<attr> = <stmt.value>`` in ``__init__`` stores, when it is a plain
    container holding layers or parameters that nothing registers; else None."""
    facts = model.facts
    value = stmt.value
    shape = container_shape(value)
    local: str | None = None
    if shape is None and isinstance(value, ast.Name):
        local = value.id
        shape = _local_container_shape(model, stmt, local)
    if shape is None:
        return None
    elements = list(direct_elements(value)) if local is None else []
    fills = _fills(facts, init, local) if local else _fills(facts, class_node, f"self.{attr}")
    elements += [e for fill in fills for e in _fill_elements(fill)]
    inner: set[str] = set()
    kinds: set[str | None] = set()
    for element in elements:
        kinds |= _element_kinds(model, element, inner)
    if not kinds & {"module", "parameter"}:
        return None
    if (
        _escapes(class_node, f"self.{attr}")
        or (local and _escapes(init, local))
        or _registers_dynamically(class_node)
        or any(_registered_elsewhere(init, e) for e in elements)
    ):
        return None
    shown = inner.pop() if len(inner) == 1 else ("containers" if inner else None)
    return PlainContainer(shape, frozenset(kinds), tuple(fills), shown)


def container_shape(value: ast.expr) -> str | None:
    if isinstance(value, (ast.List, ast.ListComp)):
        return "list"
    if isinstance(value, ast.Tuple):
        return "tuple"
    if isinstance(value, (ast.Dict, ast.DictComp)):
        return "dict"
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        if not (value.args or value.keywords):
            return {"list": "list", "dict": "dict"}.get(value.func.id)
        if keyword_dict(value):
            return "dict"
        if _sequence_of_generator(value) is not None:
            return "tuple" if value.func.id == "tuple" else "list"
    return None


def keyword_dict(call: ast.Call) -> bool:
    """``dict(a=nn.Linear(...), b=...)``."""
    return (
        isinstance(call.func, ast.Name)
        and call.func.id == "dict"
        and not call.args
        and all(k.arg is not None for k in call.keywords)
    )


def _sequence_of_generator(call: ast.Call) -> ast.GeneratorExp | None:
    """``tuple(Block() for _ in range(n))`` / ``list(...)``: the generator."""
    if (
        isinstance(call.func, ast.Name)
        and call.func.id in ("list", "tuple")
        and len(call.args) == 1
        and not call.keywords
        and isinstance(call.args[0], ast.GeneratorExp)
    ):
        return call.args[0]
    return None


def _local_container_shape(model: SemanticModel, stmt: ast.stmt, name: str) -> str | None:
    """The shape of a local ``name = [...]`` when that is the one definition reaching."""
    if name not in _container_names(model.facts):
        return None  # no definition of it can be one: no reaching definitions needed
    definitions = model.reaching(name, stmt)
    if len(definitions) != 1 or definitions[0].kind != "assign":
        return None
    value = definitions[0].value
    return container_shape(value) if value is not None else None


def _container_names(facts: ModuleFacts) -> frozenset[str]:
    """The names some ``=`` / annotated assignment of the file binds to a container (or
    unpacks one into): a superset of those :func:`_local_container_shape` can accept."""

    def build() -> frozenset[str]:
        names: set[str] = set()
        for kind in (ast.Assign, ast.AnnAssign):
            for node in facts.nodes_of(kind):
                value = node.value  # type: ignore[attr-defined]
                if not _may_be_container(value) or container_shape(value) is None:
                    continue
                targets = node.targets if kind is ast.Assign else [node.target]  # type: ignore[attr-defined]
                for target in targets:
                    names.update(_bound_names(target))
        return frozenset(names)

    return facts.shared("container names", build)


def _bound_names(target: ast.expr) -> Iterator[str]:
    """The names an assignment target binds (through tuples, lists and starred parts)."""
    if isinstance(target, ast.Starred):
        target = target.value
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _bound_names(element)


def _may_be_container(value: ast.expr | None) -> bool:
    """What :func:`container_shape` can accept, tested first (most values are calls)."""
    if isinstance(value, ast.Call):
        return isinstance(value.func, ast.Name) and value.func.id in ("list", "dict", "tuple")
    return isinstance(value, (ast.List, ast.ListComp, ast.Tuple, ast.Dict, ast.DictComp))


def direct_elements(value: ast.expr) -> Iterator[ast.expr]:
    if isinstance(value, (ast.List, ast.Tuple)):
        yield from value.elts
    elif isinstance(value, ast.ListComp):
        yield value.elt
    elif isinstance(value, ast.Dict):
        yield from value.values
    elif isinstance(value, ast.DictComp):
        yield value.value
    elif isinstance(value, ast.Call) and keyword_dict(value):
        yield from (k.value for k in value.keywords)
    elif isinstance(value, ast.Call) and (generator := _sequence_of_generator(value)):
        yield generator.elt


def _element_kinds(
    model: SemanticModel, element: ast.expr, inner: set[str], depth: int = 0
) -> set[str | None]:
    """What an element is; the kinds of a nested container's elements (whose shape goes
    into ``inner``)."""
    facts = model.facts
    if depth > NAME_DEPTH:
        return {None}
    while isinstance(element, ast.Call) and flow.method_name(element) in torchnames.MOVE_METHODS:
        element = element.func.value  # type: ignore[attr-defined]
    shape = container_shape(element)
    if shape is not None:
        inner.add(shape)
        nested = [_element_kinds(model, e, inner, depth + 1) for e in direct_elements(element)]
        return set().union(*nested) if nested else set()
    if isinstance(element, ast.Call):
        if facts.is_parameter_call(element):
            return {"parameter"}
        return {"module"} if facts.is_module_call(element) else {None}
    statement = facts.enclosing_statement(element)
    if not isinstance(element, ast.Name) or statement is None:
        return {None}
    values = [d.value for d in model.reaching(element.id, statement) if d.kind == "assign"]
    kinds = [_element_kinds(model, v, inner, depth + 1) for v in values if v is not None]
    found: set[str | None] = set().union(*kinds) if kinds else {None}
    return found if len(found) == 1 else {None}


def _fills(facts: ModuleFacts, scope: ast.AST, dotted: str) -> list[ast.AST]:
    """``x.append(e)``, ``x.extend([...])``, ``x.insert(i, e)``, ``x[k] = e``,
    ``x[k][j] = e``, ``x += [...]`` under ``scope``, in ``ast.walk(scope)`` order."""
    indexes = facts.shared("gg203 fills", lambda: _index_fills(facts))
    parts = [found for index in indexes if (found := index.get(dotted))]
    if len(parts) > 1:
        fills = facts.in_walk_order([n for part in parts for n in part])
    else:
        fills = parts[0] if parts else []
    return [n for n in fills if any(a is scope for a in facts.ancestors(n))]


def _index_fills(facts: ModuleFacts) -> tuple[dict[str, list[ast.AST]], ...]:
    """Every fill of the file by the dotted name it fills, one index per node type, each
    in ``ast.walk`` order: built once, where a walk per class made files of many modules
    quadratic (merged only for the names looked up)."""
    calls: dict[str, list[ast.AST]] = {}
    for call in cast(list[ast.Call], facts.nodes_of(ast.Call)):
        if flow.method_name(call) in _FILL_METHODS:
            dotted = flow.dotted_name(call.func.value)  # type: ignore[attr-defined]
            if dotted is not None:
                calls.setdefault(dotted, []).append(call)
    assigns: dict[str, list[ast.AST]] = {}
    for node in facts.nodes_of(ast.Assign):
        for target in node.targets:  # type: ignore[attr-defined]
            if isinstance(target, ast.Subscript):
                dotted = flow.dotted_name(_root_of_items(target))
                if dotted is not None:
                    assigns.setdefault(dotted, []).append(node)
    augmented: dict[str, list[ast.AST]] = {}
    for node in facts.nodes_of(ast.AugAssign):
        dotted = flow.dotted_name(node.target)  # type: ignore[attr-defined]
        if dotted is not None:
            augmented.setdefault(dotted, []).append(node)
    return calls, assigns, augmented


def _root_of_items(target: ast.Subscript) -> ast.expr:
    """``self.experts`` of ``self.experts[task][name]``."""
    holder = target.value
    while isinstance(holder, ast.Subscript):
        holder = holder.value
    return holder


def _fill_elements(fill: ast.AST) -> Iterator[ast.expr]:
    if isinstance(fill, ast.Call):
        method = flow.method_name(fill)
        args = [a for a in fill.args if not isinstance(a, ast.Starred)]
        if method == "append" and args:
            yield args[0]
        elif method == "insert" and len(args) == 2:
            yield args[1]
        elif method == "extend" and args:
            yield from direct_elements(args[0]) if container_shape(args[0]) else ()
    elif isinstance(fill, ast.Assign):
        yield fill.value
    elif isinstance(fill, ast.AugAssign):
        yield from direct_elements(fill.value)


def _registered_elsewhere(function: ast.AST, element: ast.expr) -> bool:
    """``wrapper = Wrapper(mod); set_module_by_path(net, path, wrapper);
    self.wrappers[path] = wrapper``: the item itself is handed to other code or stored
    on another attribute, which may register it; the container is then only an index."""
    if not isinstance(element, ast.Name):
        return False
    for node in flow.walk_local(function):
        if not isinstance(node, ast.Call) or flow.method_name(node) in _FILL_METHODS:
            continue
        if isinstance(node.func, ast.Name) and node.func.id in HARMLESS_CALLS:
            continue
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            inner = argument.value if isinstance(argument, ast.Starred) else argument
            if isinstance(inner, ast.Name) and inner.id == element.id:
                return True
    return any(
        isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Name)
        and node.value.id == element.id
        and any(isinstance(t, ast.Attribute) for t in node.targets)
        for node in flow.walk_local(function)
    )


def _escapes(scope: ast.AST, dotted: str) -> bool:
    """The container is handed to code that may register its items (``nn.Sequential(
    *self.layers)``, a helper of the project): then it may well be fine."""
    for node in ast.walk(scope):
        if not isinstance(node, ast.Call):
            continue
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            inner = argument.value if isinstance(argument, ast.Starred) else argument
            if flow.dotted_name(inner) != dotted:
                continue
            if not (isinstance(node.func, ast.Name) and node.func.id in HARMLESS_CALLS):
                return True
    return False


def _registers_dynamically(class_node: ast.ClassDef) -> bool:
    """``add_module``/``register_module``/``setattr(self, name, ...)`` register items by
    name: the class may register the container's items itself. A call with a literal
    name (``self.register_parameter("offset", None)``) registers one fixed attribute,
    not the items of a container."""
    for node in ast.walk(class_node):
        if isinstance(node, ast.Call):
            method = flow.method_name(node)
            if method in ("add_module", "register_module", "register_parameter"):
                name = node.args[0] if node.args else None
            elif isinstance(node.func, ast.Name) and node.func.id == "setattr":
                name = node.args[1] if len(node.args) > 1 else None
            else:
                continue
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                return True
    return False
