"""GG203's fixes: wrap a plain container in the ``torch.nn`` container it stands for,
and the checks for moving a Parameter's creation from ``forward`` to ``__init__``."""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.analysis.facts import ClassInfo, self_attribute
from gradguard.analysis.spelling import local_name_for
from gradguard.findings import Fix, FixSafety
from gradguard.rules.base import RuleContext
from gradguard.semantic.containers import (
    HARMLESS_CALLS,
    PlainContainer,
    direct_elements,
    keyword_dict,
)

_WRAPPER_METHODS = {
    "ModuleList": frozenset({"append", "extend", "insert", "pop"}),
    "ParameterList": frozenset({"append", "extend"}),
    "ModuleDict": frozenset({"clear", "items", "keys", "pop", "update", "values"}),
    "ParameterDict": frozenset(
        {
            "clear",
            "copy",
            "get",
            "items",
            "keys",
            "pop",
            "popitem",
            "setdefault",
            "update",
            "values",
        }
    ),
}


def wrap_fix(
    context: RuleContext,
    info: ClassInfo,
    stmt: ast.Assign,
    attr: str,
    container: PlainContainer,
) -> tuple[Fix, ...]:
    """``nn.ModuleList([...])`` / ``nn.ModuleDict({...})`` / ``nn.ParameterList`` /
    ``nn.ParameterDict`` around the value, when every use of the attribute in the class
    works the same on the wrapper."""
    kinds, shape, fills = container.kinds, container.shape, list(container.fills)
    if container.inner is not None or kinds not in ({"module"}, {"parameter"}):
        return ()
    prefix = "Module" if kinds == {"module"} else "Parameter"
    wrapper = f"{prefix}{'Dict' if shape == 'dict' else 'List'}"
    if shape == "dict" and not _string_keys(stmt.value, fills):
        return ()
    if not _uses_supported(info.node, f"self.{attr}", wrapper, stmt):
        return ()
    name = local_name_for(context.facts, f"torch.nn.{wrapper}")
    if name is None:
        return ()
    value = stmt.value
    source = context.source
    text = source.node_text(value)
    empty = (isinstance(value, ast.Call) and not (value.args or value.keywords)) or (
        isinstance(value, (ast.List, ast.Dict)) and not list(direct_elements(value))
    )
    if empty:
        new = f"{name}()"
    elif isinstance(value, ast.Tuple) and not text.startswith("("):
        new = f"{name}(({text}))"
    else:
        new = f"{name}({text})"
    return (Fix(f"Wrap in `{name}`", FixSafety.SAFE, (source.replace(value, new),)),)


def _string_keys(value: ast.expr, fills: list[ast.AST]) -> bool:
    keys: list[ast.expr | None] = []
    if isinstance(value, ast.Dict):
        keys += value.keys
    elif isinstance(value, ast.DictComp):
        keys.append(value.key)
    elif isinstance(value, ast.Call) and not keyword_dict(value):
        return False
    for fill in fills:
        if not isinstance(fill, ast.Assign):
            return False
        for target in fill.targets:
            if isinstance(target, ast.Subscript):
                keys.append(target.slice)
    return all(_is_string_key(k) for k in keys)


def _is_string_key(key: ast.expr | None) -> bool:
    if isinstance(key, ast.JoinedStr):
        return True
    if isinstance(key, ast.Call) and isinstance(key.func, ast.Name) and key.func.id == "str":
        return True
    return isinstance(key, ast.Constant) and isinstance(key.value, str)


def _uses_supported(class_node: ast.ClassDef, dotted: str, wrapper: str, stmt: ast.stmt) -> bool:
    """Every read of the attribute in the class works the same on the wrapper."""
    parents = {
        child: parent for parent in ast.walk(class_node) for child in ast.iter_child_nodes(parent)
    }
    for node in ast.walk(class_node):
        if not (isinstance(node, ast.Attribute) and flow.dotted_name(node) == dotted):
            continue
        if not isinstance(node.ctx, ast.Load):
            if any(t is node for t in getattr(stmt, "targets", [])):
                continue
            return False
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute):
            if parent.attr not in _WRAPPER_METHODS[wrapper]:
                return False
        elif isinstance(parent, ast.Subscript):
            if isinstance(parent.slice, ast.Slice) and not isinstance(parent.ctx, ast.Load):
                return False
        elif isinstance(parent, ast.Call):
            if not (isinstance(parent.func, ast.Name) and parent.func.id in HARMLESS_CALLS):
                return False
            if wrapper.endswith("Dict") and parent.func.id == "reversed":
                return False
        elif isinstance(parent, (ast.For, ast.comprehension, ast.Starred)):
            continue
        elif isinstance(parent, ast.Compare):
            if not all(isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops):
                return False
        elif isinstance(parent, ast.AugAssign):
            if not wrapper.endswith("List"):
                return False
        else:
            return False
    return True


def computable_in_init(
    value: ast.expr,
    init: ast.FunctionDef | ast.AsyncFunctionDef,
    forward: ast.FunctionDef | ast.AsyncFunctionDef,
) -> bool:
    """Every name the value reads means the same in ``__init__``: globals and builtins
    not shadowed there, and ``self.<attr>`` that ``__init__`` assigns."""
    forward_locals = _local_names(forward)
    init_locals = _local_names(init)
    inner = {
        node.id
        for node in ast.walk(value)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    } | {arg.arg for arg in ast.walk(value) if isinstance(arg, ast.arg)}
    init_attrs = {
        attr
        for node in ast.walk(init)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and (attr := self_attribute(node))
    }
    for node in ast.walk(value):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and node.attr not in init_attrs
        ):
            return False
        if not isinstance(node, ast.Name) or node.id in inner:
            continue
        if node.id == "self":
            parent_ok = any(
                isinstance(p, ast.Attribute) and p.value is node for p in ast.walk(value)
            )
            if not parent_ok:
                return False
            continue
        if node.id in forward_locals or node.id in init_locals:
            return False
    return True


def _local_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = {arg.arg for arg in ast.walk(function.args) if isinstance(arg, ast.arg)}
    for node in flow.walk_local(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names - {"self"}


def assigns_self(function: ast.AST, attr: str) -> bool:
    return any(
        isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and self_attribute(node) == attr
        for node in ast.walk(function)
    )
