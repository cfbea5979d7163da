"""Summaries of the functions of other workspace modules (``from utils import replace_head``).

A workspace module the file imports is parsed with the same engine (never imported or
executed) and each of its top-level functions is summarised by its effects on its
parameters, in terms that hold no syntax tree: the parts of a parameter it replaces
(``model.fc = nn.Linear(...)``, what :mod:`gradguard.semantic.replacements` finds in a
same-file function) and the parameters it moves or casts in place (``model.to(device)``).
A summary is plain data: it is computed once per file version, on a background thread in
the editor, and shared by every file that imports the module.

Finding the module is :mod:`gradguard.workspace_modules`'s job; the rules reach it through
the file's resolver (``workspace_function``), so ``--no-resolve`` and resolver-less
analyses use the file alone. Only one level is followed: the summarised module's own
imports are not (a circular import costs nothing).
"""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass, field

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.catalogue.tensors import STATE_MISMATCHING_MOVES


@dataclass(frozen=True)
class ReplacedPart:
    """``model.fc = ...`` done by the function on its parameter ``parameter``."""

    parameter: str
    suffix: str  # ``.fc`` (the part below the parameter), for matching
    text_suffix: str  # how the caller spells it after its own name (``.layers[0]``)
    kind: str  # a Replacement kind: "module", "parameter", "weight_norm"
    line: int  # 1-based, in the summarised module
    tensor_name: str = "weight"
    legacy: bool = False
    adds_param_group: bool = False


@dataclass(frozen=True)
class Move:
    """``parameter.to(...)`` / ``.cuda()`` / ``.double()``... in the function's own code."""

    parameter: str
    method: str
    line: int


@dataclass(frozen=True)
class BuiltOptimizer:
    """``return SGD(model.backbone.parameters())``: an optimizer the function returns,
    built from the parameters of ``parameter`` (``suffix`` ``.backbone``)."""

    parameter: str
    suffix: str
    line: int


@dataclass(frozen=True)
class FunctionSummary:
    name: str
    positional: tuple[str, ...]
    keyword_only: tuple[str, ...]
    replaced: tuple[ReplacedPart, ...] = ()
    moves: tuple[Move, ...] = ()
    # Parameters it calls ``add_param_group`` on (``add_head(optimizer, model.fc)``).
    adds_param_groups: frozenset[str] = frozenset()
    optimizers: tuple[BuiltOptimizer, ...] = ()
    # A method: its first parameter (``self``), bound to the object it is called on, and
    # per field of ``self`` the first thing the method (with the methods it calls on
    # ``self``) does with it: "use" (reads it) or "rebuild" (assigns it).
    receiver: str = ""
    touches: tuple[tuple[str, str], ...] = ()

    def touch(self, field: str) -> str | None:
        return next((t for f, t in self.touches if f == field), None)


@dataclass(frozen=True)
class ClassSummary(FunctionSummary):
    """A class: calling it runs ``__init__`` (the inherited fields summarise it, ``self``
    left out); ``methods`` the other methods; ``fields`` ``{field: parameter}`` for
    ``self.model = model`` in ``__init__``; ``optimizer_fields`` ``{field: optimizer}``
    for ``self.optimizer = SGD(model.parameters())`` (or ``self.model.parameters()``)."""

    methods: dict[str, FunctionSummary] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    optimizer_fields: dict[str, BuiltOptimizer] = field(default_factory=dict)


@dataclass(frozen=True)
class ModuleSummary:
    """What a module's top-level functions do to their arguments; ``reexports``: names it
    imports with ``from x import name`` (a package's ``__init__``), to follow once more."""

    path: str
    functions: dict[str, FunctionSummary] = field(default_factory=dict)
    reexports: dict[str, str] = field(default_factory=dict)
    complete: bool = True  # False: the time bound stopped it (the rest is unknown)


@dataclass(frozen=True)
class ForeignCall:
    """A call of a summarised function: the summary, the module's file name as shown in
    messages, and how the caller spelled the function."""

    summary: FunctionSummary
    file_name: str
    called_as: str


def summarise(facts: ModuleFacts, path: str, deadline: float | None = None) -> ModuleSummary:
    """The summary of every top-level function of the parsed module ``facts``; functions
    not reached before ``deadline`` (``time.monotonic()``) are left out."""
    functions: dict[str, FunctionSummary] = {}
    complete = True
    for name, function in facts.functions.items():
        if deadline is not None and time.monotonic() > deadline:
            complete = False
            break
        functions[name] = summarise_function(facts, function)
    for name, info in facts.classes.items():
        if deadline is not None and time.monotonic() > deadline:
            complete = False
            break
        if facts.parents.get(info.node) is facts.tree and name not in functions:
            functions[name] = summarise_class(facts, info.node)
    reexports = {
        name: qualified
        for name, qualified in facts.imports.aliases.items()
        if name not in facts.functions and "." in qualified.lstrip(".")
    }
    return ModuleSummary(path, functions, reexports, complete)


def summarise_class(facts: ModuleFacts, node: ast.ClassDef) -> ClassSummary:
    from gradguard.semantic.workspace_classes import class_summary  # it imports us

    return class_summary(facts, node)


def summarise_function(
    facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef
) -> FunctionSummary:
    from gradguard.semantic.built_optimizers import returned_optimizers
    from gradguard.semantic.replacements import function_replacements  # it imports us

    positional = tuple(a.arg for a in [*function.args.posonlyargs, *function.args.args])
    keyword_only = tuple(a.arg for a in function.args.kwonlyargs)
    parameters = {*positional, *keyword_only}
    replaced = []
    for root, inner in function_replacements(facts, function, 0):
        if inner.untranslated or root not in parameters or not inner.part.startswith(root):
            continue  # a local alias or a global: nothing the caller's names can say
        replaced.append(
            ReplacedPart(
                root,
                inner.part[len(root) :],
                inner.part_text[len(root) :],
                inner.kind,
                inner.via_line or getattr(inner.node, "lineno", 0),
                inner.tensor_name,
                inner.legacy,
                inner.adds_param_group,
            )
        )
    adds = frozenset(
        node.func.value.id
        for node in flow.walk_local(function)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_param_group"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in parameters
    )
    moves = _moves(facts, function)
    built = tuple(BuiltOptimizer(*b) for b in returned_optimizers(facts, function, parameters))
    return FunctionSummary(
        function.name, positional, keyword_only, tuple(replaced), moves, adds, built
    )


def _moves(facts: ModuleFacts, function: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple:
    """Moves of a parameter itself (``m.to(device)``, ``return m.cuda()``) before the
    function rebinds that name."""
    positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    parameters = {*positional, *(a.arg for a in function.args.kwonlyargs)}
    found: list[Move] = []
    rebound: set[str] = set()
    for info in facts.statements_of(function):
        for node in flow.own_nodes(info.node):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            receiver = node.func.value
            if node.func.attr not in STATE_MISMATCHING_MOVES or not isinstance(receiver, ast.Name):
                continue
            if receiver.id in parameters - rebound:
                found.append(Move(receiver.id, node.func.attr, node.lineno))
        rebound |= {name for name in parameters if flow.assigns_name(info.node, name)}
    return tuple(found)


# -- at a call site -------------------------------------------------------------------


def foreign_call(facts: ModuleFacts, call: ast.Call) -> ForeignCall | None:
    """The summary of the other workspace module's function ``call`` calls
    (``replace_head(model)`` after ``from utils import replace_head``, or
    ``utils.replace_head(model)``), when the file's resolver can find one."""
    func = call.func
    if isinstance(func, ast.Name) and func.id in facts.functions:
        return None  # the file's own function shadows the import
    lookup = getattr(facts.resolver, "workspace_function", None)
    if lookup is None:
        return None
    qualified = facts.qualify(func)
    if isinstance(func, ast.Attribute) and (
        isinstance(func.value, ast.Call) or (not qualified and isinstance(func.value, ast.Name))
    ):
        from gradguard.semantic.workspace_classes import foreign_method  # it imports us

        return foreign_method(facts, call)  # ``trainer.replace_head(3)``
    if not qualified or "." not in qualified.lstrip("."):
        return None
    cache: dict[str, tuple[FunctionSummary, str] | None] = facts.shared(foreign_call, dict)
    if qualified not in cache:
        cache[qualified] = lookup(qualified, facts.source.path)
    found = cache[qualified]
    if found is None:
        return None
    summary, file_name = found
    return ForeignCall(summary, file_name, flow.dotted_name(func) or summary.name)


def argument_names(
    call: ast.Call,
    callee: FunctionSummary | ast.FunctionDef | ast.AsyncFunctionDef,
    receiver: ast.expr | None = None,
) -> dict[str, str]:
    """The callee's parameter names bound to the caller's dotted names passed for them
    (``model``, ``self.model``), up to the first ``*args``; a method's first parameter
    to ``receiver``'s name when it is called on one."""
    if isinstance(callee, FunctionSummary):
        positional, keyword_only = list(callee.positional), callee.keyword_only
    else:
        positional = [a.arg for a in [*callee.args.posonlyargs, *callee.args.args]]
        keyword_only = tuple(a.arg for a in callee.args.kwonlyargs)
    bound: dict[str, ast.expr] = {}
    if receiver is not None and positional:
        bound[positional.pop(0)] = receiver
    elif (
        isinstance(callee, FunctionSummary)
        and callee.receiver
        and isinstance(call.func, ast.Attribute)
    ):
        bound[callee.receiver] = call.func.value  # a method's ``self``: the object
    for name, argument in zip(positional, call.args, strict=False):
        if isinstance(argument, ast.Starred):
            break
        bound[name] = argument
    accepted = {*positional, *keyword_only}
    for keyword in call.keywords:
        if keyword.arg in accepted:
            bound[keyword.arg] = keyword.value
    names = {name: flow.dotted_name(argument) for name, argument in bound.items()}
    return {name: dotted for name, dotted in names.items() if dotted}
