"""Is a same-file function a module factory: does the semantic model see one of its
``return`` statements give an ``nn.Module`` (``return Net()``, ``m = Net(); return
m.to(device)``, ``return build_backbone()``)?

Its parameters count as unknown here (not what the file's own calls pass): a function
that hands back the module it was given (``def wrap(model): return model``) builds none.
``ModuleFacts.callee_kind`` asks this for ``make_model(...)`` calls.
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import UNKNOWN_VALUE, ModuleObject


def returns_module(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    evaluator = SemanticModel.of(facts).evaluator
    arguments = function.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    frame = tuple(sorted((a.arg, UNKNOWN_VALUE) for a in every))
    returned = [n.value for n in flow.walk_local(function) if isinstance(n, ast.Return)]
    return any(
        isinstance(obj, ModuleObject)
        for value in returned
        if value is not None
        for obj in evaluator.value_of(value, frame)
    )
