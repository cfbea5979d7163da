"""## What it does
Checks for `torch.nn.Module` subclasses whose constructor is misspelled: `_init_`,
`__init`, `__int__`, `init` (and similar) instead of `__init__`.

## Why is this bad?
Python never calls the misspelled method, so `nn.Module.__init__` runs in its place and
none of the layers are created. The model has no parameters, and the optimizer built from
`model.parameters()` fails.

## What PyTorch does
`SGD(model.parameters(), lr=0.1)` raises `ValueError: optimizer got an empty parameter list`.
If the class is constructed with arguments, construction itself fails first:
`TypeError: CNNModel.__init__() takes 1 positional argument but 2 were given`.

## Example
```python
import torch
from torch import nn


class CNNModel(nn.Module):
    def _init_(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)


model = CNNModel()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
```

## Use instead
```python
import torch
from torch import nn


class CNNModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)


model = CNNModel()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
```

## Fix safety
The fix renames the method to `__init__`. It is safe: the misspelled method was never
called by Python, so the rename only restores the intended constructor. A class that
already defines `__init__`, or whose same-file base class does, is not reported: there the
near-miss name is a helper of the real constructor (torch's quantized `_ConvNd._init`,
which its subclasses call). Nor is a static or class method (`@staticmethod def init(...)`,
a factory as in torch's FSDP tests) or a method the file calls (`self.init()`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradguard.analysis import flow
from gradguard.findings import Finding, Fix, FixSafety, Position, Severity, Span, TextEdit
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic.model import SemanticModel

Function = ast.FunctionDef | ast.AsyncFunctionDef
MISSPELLINGS = frozenset(
    {
        "_init_",
        "__init",
        "_init__",
        "__init_",
        "__int__",
        "__innit__",
        "__intit__",
        "init",
        "__inti__",
        "___init__",
        "__init___",
        "_init",
        "__initialize__",
    }
)


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    for info in context.facts.classes.values():
        methods = info.methods
        # With a real constructor beside it, a near-miss name is a helper (torch's own
        # quantized `_ConvNd._init`, called by its subclasses), not a lost constructor.
        if (
            "__init__" in methods
            or MISSPELLINGS.isdisjoint(methods)
            or _inherits_a_constructor(context, info.name)
        ):
            continue
        if not info.is_module:  # last: it may ask jedi about an imported base
            continue
        for name, method in methods.items():
            if name not in MISSPELLINGS or _not_a_constructor(context, method, info.name):
                continue
            span = _name_span(context, method)
            yield rule.finding(
                context,
                span,
                f"`{info.name}.{name}` is never called: the constructor of an nn.Module is "
                f"`__init__`, so its layers are not created and the model has no parameters",
                fixes=(_rename_fix(span),),
            )


def _inherits_a_constructor(context: RuleContext, class_name: str) -> bool:
    """A same-file base class defines ``__init__``: that constructor runs, and the
    near-miss name is a helper it may call (``self.init()``)."""
    classes = context.facts.classes
    seen = {class_name}
    pending = list(classes[class_name].base_names)
    while pending:
        base = pending.pop()
        if base in classes and base not in seen:
            seen.add(base)
            if "__init__" in classes[base].methods:
                return True
            pending += classes[base].base_names
    return False


def _not_a_constructor(context: RuleContext, method: Function, class_name: str) -> bool:
    """A static or class method (``@staticmethod def init(...)``, a factory as in torch's
    FSDP tests), or a method the file calls (``self.init()``): not a lost constructor."""
    for decorator in method.decorator_list:
        if flow.dotted_name(decorator) in ("staticmethod", "classmethod"):
            return True
    return any(
        isinstance(node.func, ast.Attribute)  # type: ignore[attr-defined]
        and node.func.attr == method.name  # type: ignore[attr-defined]
        and _holds_instance_of(context, node.func.value, class_name)  # type: ignore[attr-defined]
        for node in context.facts.nodes_of(ast.Call)
    )


def _holds_instance_of(context: RuleContext, receiver: ast.expr, class_name: str) -> bool:
    """``self`` in the class, or a name the model says may hold an instance of it (not
    ``wandb`` of ``wandb.init()``)."""
    value = SemanticModel.of(context.facts).value_of(receiver)
    return any(getattr(obj, "class_name", None) == class_name for obj in value)


def _name_span(context: RuleContext, method: ast.FunctionDef | ast.AsyncFunctionDef) -> Span:
    """The span of the method's name on its ``def`` line."""
    line = method.lineno - 1
    text = context.source.line_text(line)
    keyword = "async def" if isinstance(method, ast.AsyncFunctionDef) else "def"
    start = text.find(method.name, text.find(keyword) + len(keyword))
    if start < 0:  # decorators or odd spacing: fall back to the def statement
        return context.source.span_of(method)
    return Span(Position(line, start), Position(line, start + len(method.name)))


def _rename_fix(span: Span) -> Fix:
    return Fix("Rename to `__init__`", FixSafety.SAFE, (TextEdit(span, "__init__"),))


RULE = Rule(
    code="GG204",
    name="misspelled-init",
    summary="nn.Module subclass defines a misspelled constructor instead of `__init__`",
    severity=Severity.ERROR,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("ValueError", "optimizer got an empty parameter list"),
)
