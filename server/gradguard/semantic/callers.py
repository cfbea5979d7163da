"""What the file's own calls pass to a function's or method's parameter.

``values.Evaluator`` gives a parameter ``Unknown`` plus what the file passes (other
modules may call it with anything). A rule that reports what "the file makes likely"
asks here instead: the calls of a module-level function (``make_optimizer(net)``), of a
same-file class's ``__init__`` (``OptimizerWrapper(net, "sgd")``) and of its methods on
an instance of it (``wrapper.rebuild(net)``), each with the value it passes.
"""

from __future__ import annotations

import ast
from functools import cached_property

from gradguard.semantic.bindings import Definition
from gradguard.semantic.objects import Value
from gradguard.semantic.values import Evaluator

Function = ast.FunctionDef | ast.AsyncFunctionDef


class Callers:
    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self.facts = evaluator.facts

    @cached_property
    def _calls_by_name(self) -> dict[str, list[ast.Call]]:
        """``{last name of the callee: [call, ...]}`` (``Wrapper(...)``, ``w.build(...)``)."""
        index: dict[str, list[ast.Call]] = {}
        for node in self.facts.nodes_of(ast.Call):
            func = node.func  # type: ignore[attr-defined]
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name is not None:
                index.setdefault(name, []).append(node)  # type: ignore[arg-type]
        return index

    def passed(self, definition: Definition) -> list[tuple[ast.Call, Value]]:
        """Each call of the file that binds the parameter ``definition``, with the value
        it passes (calls that do not pass it, or pass ``*args``, are left out)."""
        function = definition.function
        if definition.kind != "parameter" or not isinstance(
            function, (ast.FunctionDef, ast.AsyncFunctionDef)
        ):
            return []
        found: list[tuple[ast.Call, Value]] = []
        for call, receiver in self._calls_of(function):
            if any(isinstance(a, ast.Starred) for a in call.args):
                continue
            frame = self.evaluator.call_frame(function, call, (), receiver)
            for bound, value in frame:
                if bound == definition.name:
                    found.append((call, value))
        return found

    def _calls_of(self, function: Function) -> list[tuple[ast.Call, Value | None]]:
        facts = self.facts
        owner = facts.parents.get(function)
        if not isinstance(owner, ast.ClassDef):
            if facts.functions.get(function.name) is not function:
                return []
            return [
                (c, None)
                for c in self._calls_by_name.get(function.name, [])
                if isinstance(c.func, ast.Name)
            ]
        if function.name == "__init__":
            calls = [
                c
                for c in self._calls_by_name.get(owner.name, [])
                if isinstance(c.func, ast.Name) and c.func.id == owner.name
            ]
            return [(c, self.evaluator.value_of(c)) for c in calls]
        found: list[tuple[ast.Call, Value | None]] = []
        for call in self._calls_by_name.get(function.name, []):
            if not isinstance(call.func, ast.Attribute):
                continue
            receiver = self.evaluator.value_of(call.func.value)
            if any(self.evaluator.heap.method(obj, function.name) is function for obj in receiver):
                found.append((call, receiver))
        return found


def enclosing_parameter(definitions: list[Definition]) -> Definition | None:
    """The one parameter definition that reaches a use, if that is all that does."""
    if len(definitions) == 1 and definitions[0].kind == "parameter":
        return definitions[0]
    return None
