"""The file's import and alias table: local names to qualified names."""

from __future__ import annotations

import ast
from collections.abc import Iterable


class ImportTable:
    """Maps the names a file binds by import (or simple aliasing) to dotted paths.

    ``import torch.optim as optim`` binds ``optim -> torch.optim``;
    ``from torch.optim import AdamW as W`` binds ``W -> torch.optim.AdamW``;
    a module-level ``Opt = torch.optim.Adam`` binds ``Opt -> torch.optim.Adam``.
    Relative imports keep their leading dots (``.models.Net``).
    """

    def __init__(self, tree: ast.AST, nodes: Iterable[ast.AST] | None = None) -> None:
        """``nodes``: the tree's import statements in ``ast.walk`` order when the caller
        has them indexed already (else the tree is walked)."""
        self.aliases: dict[str, str] = {}
        for node in ast.walk(tree) if nodes is None else nodes:
            if isinstance(node, ast.Import):
                self._add_import(node)
            elif isinstance(node, ast.ImportFrom):
                self._add_import_from(node)
        if isinstance(tree, ast.Module):
            self._add_module_aliases(tree)

    def _add_import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                self.aliases.setdefault(head, head)

    def _add_import_from(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                continue
            separator = "" if module.endswith(".") else "."
            self.aliases[alias.asname or alias.name] = f"{module}{separator}{alias.name}"

    def _add_module_aliases(self, tree: ast.Module) -> None:
        for stmt in tree.body:
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, (ast.Name, ast.Attribute))
            ):
                qualified = self.qualify(stmt.value)
                if qualified and "." in qualified:
                    self.aliases.setdefault(stmt.targets[0].id, qualified)

    def qualify(self, expr: ast.AST) -> str | None:
        """The dotted path ``expr`` names through imports, or None."""
        # A loop, not a recursion: it runs for most calls and attributes of every file.
        attributes: list[str] = []
        while isinstance(expr, ast.Attribute):
            attributes.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name):
            return None
        base = self.aliases.get(expr.id)
        if not attributes:
            return base
        if not base:
            return None
        attributes.append(base)
        return ".".join(reversed(attributes))

    def imports_module(self, prefix: str) -> bool:
        return any(q == prefix or q.startswith(prefix + ".") for q in self.aliases.values())
