"""What kind of object an expression surely holds, read from the evaluator's values.

The questions an optimizer's input raises (GG101): is it a module, a tensor that requires
grad, a one-shot iterator, the sole value a name was given? Each answer is True only when
every object the model sees is of that kind (``Unknown`` proves nothing), so rules that
ask stay silent on what the file does not show.
"""

from __future__ import annotations

import ast
from functools import cached_property

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic.callers import Callers
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import (
    ModuleObject,
    ParameterIterable,
    ParameterObject,
    TensorObject,
    Value,
)
from gradguard.semantic.parameter_free import ParameterFree

# nn.Module methods that return one-shot generators.
GENERATOR_METHODS = frozenset(
    {
        "parameters",
        "named_parameters",
        "buffers",
        "named_buffers",
        "children",
        "named_children",
        "modules",
        "named_modules",
    }
)
# Builtins (and itertools) that return one-shot iterators.
ITERATOR_BUILTINS = frozenset({"filter", "map", "iter", "zip", "reversed"})
ITERTOOLS_ITERATORS = frozenset(
    {"itertools.chain", "itertools.chain.from_iterable", "itertools.islice"}
)


class Kinds:
    """Per-file answers, built once and shared (``Kinds.of(facts)``)."""

    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts
        self.model = SemanticModel.of(facts)

    @classmethod
    def of(cls, facts: ModuleFacts) -> Kinds:
        return facts.shared("semantic kinds", lambda: cls(facts))

    @cached_property
    def callers(self) -> Callers:
        return Callers(self.model.evaluator)

    @cached_property
    def parameter_free(self) -> ParameterFree:
        return ParameterFree(self.model.evaluator)

    def value(self, expr: ast.AST) -> Value:
        return self.model.value_of(expr)

    def is_module(self, expr: ast.AST) -> bool:
        """Every object ``expr`` may hold is an ``nn.Module``."""
        value = self.value(expr)
        return bool(value) and all(isinstance(obj, ModuleObject) for obj in value)

    def is_module_refused_as_parameters(self, expr: ast.AST) -> bool:
        """Every object is a module an optimizer refuses as its ``params``: any but an
        ``nn.ParameterList``, which iterates its Parameters (``optim.SGD(plist)`` builds
        one group, measured on torch 2.13.0)."""
        value = self.value(expr)
        return bool(value) and all(refused_as_parameters(obj) for obj in value)

    def is_parameter_tensor(self, expr: ast.AST) -> bool:
        """Every object is a tensor that requires grad: a parameter (``fc.weight``,
        ``nn.Parameter(...)``), a factory's ``requires_grad=True`` result, or
        ``t.requires_grad_()`` of a tensor."""
        if isinstance(expr, ast.Call) and flow.method_name(expr) == "requires_grad_":
            arguments = [*expr.args, *(k.value for k in expr.keywords)]
            turned_off = len(arguments) == 1 and _is_false(arguments[0])
            return not turned_off and not self.is_module(expr.func.value)  # type: ignore[attr-defined]
        value = self.value(expr)
        return bool(value) and all(
            isinstance(obj, ParameterObject)
            or (isinstance(obj, TensorObject) and obj.requires_grad is True)
            for obj in value
        )

    def holds_module_parameters(self, expr: ast.AST) -> bool:
        """``model.parameters()`` (or a list of it) of modules: every object is an
        iterable of parameter tensors (not ``(name, parameter)`` pairs)."""
        value = self.value(expr)
        return bool(value) and all(
            isinstance(obj, ParameterIterable)
            and not obj.named
            # ``[a.parameters(), b.parameters()]`` is a list of generators, not parameters.
            and not isinstance(obj.site, (ast.List, ast.Tuple))
            and (
                not self.non_module_parameter_methods
                or all(isinstance(owner, ModuleObject) for owner in obj.owners)
            )
            for obj in value
        )

    def sole_value(self, name: ast.Name) -> ast.expr | None:
        """The expression of the one definition of ``name`` that reaches its use, when
        it is a plain assignment of something other than another name."""
        statement = self.facts.enclosing_statement(name)
        if statement is None:
            return None
        definitions = self.model.reaching(name.id, statement)
        if not definitions and isinstance(self.facts.enclosing_scope(name), ast.Module):
            return None
        if not definitions:  # a global read in a function
            definitions = self.model.bindings(self.facts.tree).definitions.get(name.id, [])
        if len(definitions) != 1 or definitions[0].kind not in ("assign", "walrus"):
            return None
        value = definitions[0].value
        return None if value is None or isinstance(value, ast.Name) else value

    def is_builtin(self, name: str) -> bool:
        """``name`` is not shadowed by an import, a function, a class or a module-level
        binding."""
        facts = self.facts
        return (
            name not in facts.imports.aliases
            and name not in facts.functions
            and name not in facts.classes
            and name not in self.model.bindings(facts.tree).definitions
        )

    # -- one-shot iterators -------------------------------------------------------------

    @cached_property
    def non_module_parameter_methods(self) -> bool:
        """The file defines a class that is not a module with its own ``parameters``
        method (micrograd style): ``x.parameters()`` may then return a list."""
        return any(
            not info.is_module and GENERATOR_METHODS & set(info.methods)
            for info in self.facts.classes.values()
        )

    def may_be_one_shot_iterator(self, expr: ast.AST) -> bool:
        """What :meth:`is_one_shot_iterator` can accept, judged by its shape alone."""
        if isinstance(expr, ast.GeneratorExp):
            return True
        if not isinstance(expr, ast.Call):
            return False
        func = expr.func
        if isinstance(func, ast.Name) and func.id in ITERATOR_BUILTINS:
            return True
        if isinstance(func, ast.Attribute) and func.attr in GENERATOR_METHODS:
            return True
        if isinstance(func, ast.Name) and func.id in self.facts.functions:
            return True  # a helper returning one: ``params_of(model)``
        return self.facts.qualify(func) in ITERTOOLS_ITERATORS

    def is_one_shot_iterator(self, expr: ast.AST) -> bool:
        """A generator or iterator that is empty once consumed."""
        if not self.may_be_one_shot_iterator(expr):
            return False
        if not isinstance(expr, ast.Call):
            return True  # a generator expression
        func = expr.func
        if isinstance(func, ast.Name) and func.id in self.facts.functions:
            return self.returns_parameter_generator(expr)
        if isinstance(func, ast.Name) and func.id in ITERATOR_BUILTINS:
            return self.is_builtin(func.id)
        if self.facts.qualify(func) in ITERTOOLS_ITERATORS:
            return True
        # What is left is a ``parameters()``-like method (``GENERATOR_METHODS``).
        if self.is_module(func.value):  # type: ignore[attr-defined]
            return True
        return not self.non_module_parameter_methods and func.attr in (  # type: ignore[attr-defined]
            "parameters",
            "named_parameters",
        )

    def returns_parameter_generator(self, call: ast.Call) -> bool:
        """A same-file function the model shows returning ``model.parameters()`` of a
        module (a generator, empty once consumed)."""
        value = self.value(call)
        return bool(value) and all(
            isinstance(obj, ParameterIterable)
            and obj.one_shot
            and (
                not self.non_module_parameter_methods
                or all(isinstance(owner, ModuleObject) for owner in obj.owners)
            )
            for obj in value
        )


def _is_false(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is False


def refused_as_parameters(obj: object) -> bool:
    """``obj`` is a module that is not a ``torch.nn.ParameterList``."""
    return isinstance(obj, ModuleObject) and not (obj.torch_layer and obj.layer == "ParameterList")
