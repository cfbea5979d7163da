"""Small text facts fixes need: how the file spells ``torch``, its indentation unit,
and whether a statement has its lines to itself."""

from __future__ import annotations

import ast

from gradguard.analysis.facts import ModuleFacts
from gradguard.source import SourceFile


def torch_name(facts: ModuleFacts) -> str | None:
    """The local name bound to the ``torch`` package (``torch``, ``T``), if any."""
    names = [local for local, qualified in facts.imports.aliases.items() if qualified == "torch"]
    if "torch" in names:
        return "torch"
    return min(names) if names else None


def no_grad_call(facts: ModuleFacts) -> str | None:
    """``torch.no_grad()`` spelled the way this file can call it, or None."""
    for local, qualified in facts.imports.aliases.items():
        if qualified in ("torch.no_grad", "torch.autograd.no_grad"):
            return f"{local}()"
    torch = torch_name(facts)
    return f"{torch}.no_grad()" if torch else None


def indent_unit(source: SourceFile, tree: ast.AST) -> str:
    """The file's indentation step, read from its first indented block (default 4 spaces)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not (isinstance(node, ast.stmt) and isinstance(body, list) and body):
            continue
        first = body[0]
        if not isinstance(first, ast.stmt) or first.lineno == node.lineno:
            continue
        outer = source.indentation_of(node.lineno - 1)
        inner = source.indentation_of(first.lineno - 1)
        if inner.startswith(outer) and len(inner) > len(outer):
            return inner[len(outer) :]
    return "    "


def indent_unit_at(facts: ModuleFacts, stmt: ast.stmt) -> str:
    """The indentation step of the block holding ``stmt``: its indentation minus that of
    the compound statement around it (the file's unit at module level)."""
    source = facts.source
    own = source.indentation_of(stmt.lineno - 1)
    for parent in facts.ancestors(stmt):
        if isinstance(parent, ast.stmt):
            outer = source.indentation_of(parent.lineno - 1)
            if own.startswith(outer) and len(own) > len(outer):
                return own[len(outer) :]
            break
    return indent_unit(source, facts.tree)


def owns_its_lines(source: SourceFile, node: ast.AST) -> bool:
    """Nothing but indentation before the node on its first line and nothing but a
    comment after it on its last line (so no ``;`` neighbour, no one-line compound)."""
    span = source.span_of(node)
    before = source.line_text(span.start.line)[: span.start.column]
    after = source.line_text(span.end.line)[span.end.column :].strip()
    return not before.strip() and (not after or after.startswith("#"))
