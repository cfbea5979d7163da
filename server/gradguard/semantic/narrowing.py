"""What the program states a name holds: ``if isinstance(m, nn.Linear):`` and ``def
f(m: nn.Linear)``. The evaluator knows values from where they are made; a weight-init
function given to ``model.apply`` is called by PyTorch with modules the file never
shows, and there only the test or the annotation says what ``m`` is."""

from __future__ import annotations

import ast

from gradguard.analysis import torchnames
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.layer_dispatch import guarding_tests
from gradguard.semantic.bindings import Definition
from gradguard.semantic.objects import ModuleObject, Value


def isinstance_narrowed(facts: ModuleFacts, name: ast.Name) -> tuple[Value, ast.If] | None:
    """The modules ``if isinstance(<name>, <classes>):`` allows where ``name`` is read
    inside that ``if``'s body (the test alone or an operand of its ``and``), and the
    ``if``; None when no such test encloses it."""
    for operand, test in guarding_tests(facts, name):
        narrowed = _isinstance_test(facts, operand, name.id)
        if narrowed is not None:
            return narrowed, test
    return None


def annotated(facts: ModuleFacts, definition: Definition) -> Value | None:
    """``def reset(layer: nn.Linear)``: the parameter holds a layer of that class."""
    function = definition.function
    if definition.kind != "parameter" or not isinstance(
        function, (ast.FunctionDef, ast.AsyncFunctionDef)
    ):
        return None
    arguments = function.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    annotation = next((a.annotation for a in every if a.arg == definition.name), None)
    if not isinstance(annotation, (ast.Name, ast.Attribute)):
        return None
    return _classes(facts, [annotation], annotation)


def _isinstance_test(facts: ModuleFacts, test: ast.expr, name: str) -> Value | None:
    if not (
        isinstance(test, ast.Call)
        and isinstance(test.func, ast.Name)
        and test.func.id == "isinstance"
        and len(test.args) == 2
        and isinstance(test.args[0], ast.Name)
        and test.args[0].id == name
    ):
        return None
    classes = test.args[1]
    options = list(classes.elts) if isinstance(classes, ast.Tuple) else [classes]
    return _classes(facts, options, classes)  # not the call: no constructor flags


def _classes(facts: ModuleFacts, options: list[ast.expr], site: ast.AST) -> Value | None:
    """Modules of the classes ``options`` name: ``torch.nn`` layers (several), or one
    same-file module class; None when any is something else."""
    found: set[ModuleObject] = set()
    for option in options:
        if isinstance(option, ast.Name) and option.id in facts.classes:
            info = facts.classes[option.id]
            if len(options) != 1 or not info.is_module:
                return None
            return frozenset({ModuleObject(info.node, info.name)})
        qualified = facts.qualify(option) or ""
        if not torchnames.is_module_class_qualname(qualified):
            return None
        found.add(ModuleObject(site, qualified, torch_layer=True))
    return frozenset(found) or None
