"""Which binding of a name a hover is about, and what class a call returns.

Interim, until the semantic model (one model of what every name holds) lands: a
hover asks :func:`binding_scope` which scope's assignments a name refers to, and
:func:`returned_class` what class a model-building call gives, and nothing else
here is asked; both answer from the file alone and say None when it does not show.
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.resolution import SymbolKind

_MODULE_KINDS = (SymbolKind.MODULE_CLASS, SymbolKind.MODULE_FACTORY)
#: How many factory calls deep ``returned_class`` follows (``make()`` -> ``build()``).
_DEPTH = 3


def binding_scope(facts: ModuleFacts, node: ast.AST, name: str) -> ast.AST:
    """The scope whose assignments ``name`` (dotted) refers to at ``node``: the
    nearest enclosing function that binds its first part (a parameter, an assignment
    target, a loop variable; not one declared ``global``), else the module. An
    attribute of ``self`` belongs to the enclosing class (its methods share it)."""
    if name.startswith("self."):
        for parent in facts.ancestors(node):
            if isinstance(parent, ast.ClassDef):
                return parent
    base = name.split(".", 1)[0]
    scope: ast.AST = facts.enclosing_scope(node)
    while isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if _binds(facts, scope, base):
            return scope
        scope = facts.enclosing_scope(scope)
    return facts.tree


def _binds(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    def build() -> bool:
        arguments = function.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
        if any(a.arg == name for a in every):
            return True
        for node in flow.walk_local(function):
            if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
                return False
        return any(
            isinstance(n.ctx, (ast.Store, ast.Del)) and facts.enclosing_scope(n) is function
            for n in facts.names_by_id.get(name, ())
        )

    return facts.shared(("lsp.binds", function, name), build)


def returned_class(facts: ModuleFacts, call: ast.Call, depth: int = 0) -> str | None:
    """The class of the module ``call`` builds, when the file shows it: the class
    called (``Net``, ``torch.nn.Linear``), or the one class every ``return`` of a
    same-file factory gives. None for a factory defined elsewhere (its body is not
    in this file) or one whose returns differ."""
    func = call.func
    if isinstance(func, ast.Name) and func.id in facts.functions and func.id not in facts.classes:
        if depth >= _DEPTH:
            return None
        return _factory_class(facts, facts.functions[func.id], depth)
    if facts.callee_kind(func) is SymbolKind.MODULE_CLASS:
        if isinstance(func, ast.Name) and func.id in facts.classes:
            return func.id
        return facts.qualify(func) or facts.source.node_text(func)
    return None


def _factory_class(
    facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef, depth: int
) -> str | None:
    built: dict[str, ast.Call] = {}  # local names bound to a call (the last one wins)
    returned: set[str | None] = set()
    for node in flow.walk_local(function):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    built[target.id] = node.value
    for node in flow.walk_local(function):
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        value = node.value
        if isinstance(value, ast.Name) and value.id in built:
            value = built[value.id]
        returned.add(
            returned_class(facts, value, depth + 1) if isinstance(value, ast.Call) else None
        )
    if len(returned) == 1:
        return returned.pop()
    return None


def is_module_kind(kind: SymbolKind | None) -> bool:
    return kind in _MODULE_KINDS
