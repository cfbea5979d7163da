"""Which binding of a name a hover is about: :func:`binding_scope` says which scope's
assignments a name refers to (what a binding holds is the semantic model's answer,
``gradguard.lsp.held``)."""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.resolution import SymbolKind

_MODULE_KINDS = (SymbolKind.MODULE_CLASS, SymbolKind.MODULE_FACTORY)


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


def is_module_kind(kind: SymbolKind | None) -> bool:
    return kind in _MODULE_KINDS
