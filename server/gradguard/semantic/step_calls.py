"""Same-file helpers a training step calls: which function a call runs, where a
function is called, and the caller's names for the helper's parameters."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.limits import CALL_DEPTH
from gradguard.semantic.reads import ReadLog

Function = ast.FunctionDef | ast.AsyncFunctionDef


class HelperCalls:
    depth = CALL_DEPTH

    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts
        self._call_sites: dict[ast.AST, list[ast.Call]] | None = None
        self.reads = ReadLog.of(facts)

    def helper_of(self, call: ast.Call) -> Function | None:
        """The same-file function a call runs: ``helper(...)`` or ``self.method(...)``."""
        helper = self._helper_of(call)
        if helper is not None and self.reads is not None:
            self.reads.read_calls(helper, by=call)
        return helper

    def _helper_of(self, call: ast.Call) -> Function | None:
        func = call.func
        if isinstance(func, ast.Name):
            # Not a recorded lookup: both callers record what they read of the helper.
            return dict.get(self.facts.functions, func.id)
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "self"
        ):
            for parent in self.facts.ancestors(call):
                if isinstance(parent, ast.ClassDef):
                    for stmt in parent.body:
                        if (
                            isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
                            and stmt.name == func.attr
                        ):
                            return stmt
                    return None
        return None

    def call_sites(self, function: ast.AST) -> list[ast.Call]:
        """Calls anywhere in the file that run ``function`` (as resolved by helper_of)."""
        if self._call_sites is None:
            sites: dict[ast.AST, list[ast.Call]] = {}
            for node in self.facts.nodes_of(ast.Call):
                if isinstance(node, ast.Call):
                    helper = self._helper_of(node)
                    if helper is not None:
                        sites.setdefault(helper, []).append(node)
            self._call_sites = sites
        found = self._call_sites.get(function, [])
        if self.reads is not None:  # the loops around the calls, and what they call
            self.reads.scan(rf"\b{re.escape(getattr(function, 'name', ''))}\b", by=function)
            for site in found:
                self.reads.read_calls(site, by=function)
        return found

    def any_node(self, nodes: list[ast.stmt], test: Callable[[ast.AST], bool]) -> bool:
        """Whether ``test`` holds for a node of ``nodes`` or of the helpers they call."""
        seen: set[ast.AST] = set()
        pending: list[ast.AST] = list(nodes)
        depth = 0
        while pending and depth <= self.depth:
            helpers: list[ast.AST] = []
            for root in pending:
                for node in flow.walk_local(root):
                    if test(node):
                        return True
                    if isinstance(node, ast.Call):
                        helper = self.helper_of(node)
                        if helper is not None and helper not in seen:
                            seen.add(helper)
                            helpers.extend(helper.body)
            pending, depth = helpers, depth + 1
        return False

    @staticmethod
    def argument_map(function: Function, call: ast.Call) -> dict[str, str | None]:
        """Helper parameter -> the dotted name passed for it (None when not a plain name)."""
        arguments = function.args
        names = [a.arg for a in arguments.posonlyargs + arguments.args]
        if names and names[0] == "self" and isinstance(call.func, ast.Attribute):
            names = names[1:]
        mapping: dict[str, str | None] = {name: None for name in names}
        mapping.update({a.arg: None for a in arguments.kwonlyargs})
        for name, value in zip(names, call.args, strict=False):
            if isinstance(value, ast.Starred):
                break
            mapping[name] = flow.dotted_name(value)
        for keyword in call.keywords:
            if keyword.arg in mapping:
                mapping[keyword.arg] = flow.dotted_name(keyword.value)
        return mapping

    @staticmethod
    def map_name(
        name: str | None, arguments: dict[str, str | None], function: Function
    ) -> str | None:
        """Rewrite a helper's name in the caller's terms (``opt`` -> ``optimizer``)."""
        if name is None:
            return None
        root, _, rest = name.partition(".")
        if root in arguments:
            mapped = arguments[root]
            if mapped is None:
                return None
            return f"{mapped}.{rest}" if rest else mapped
        if function.args.vararg and root == function.args.vararg.arg:
            return None
        return name
