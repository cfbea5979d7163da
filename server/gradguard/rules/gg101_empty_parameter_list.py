"""## What it does
Checks for optimizers that receive no trainable parameters, or something that is not an
iterable of tensors or parameter-group dicts:

- a literal empty list or tuple (`SGD([], lr=0.01)`), also when the parameters are meant
  to be added later with `add_param_group`;
- a generator, `filter`, `map` or other iterator that was already consumed (by an earlier
  optimizer, `clip_grad_norm_`, `list(...)` or a `for` loop), and the reverse: an iterator
  the optimizer consumed that is used again (`clip_grad_norm_(same_filter, 1.0)`), or one
  consumed again in every iteration of a loop;
- `model.parameters` without the call, the module itself (`SGD(model)`), a single tensor
  (`SGD(model.weight)`), a dict such as `dict(model.named_parameters())`,
  `model.state_dict().values()`, and non-leaf tensor expressions (`SGD([w * 2])`);
- `filter(lambda p: p.requires_grad, model.parameters())` (or a comprehension with the
  same test) right after every parameter of that model was frozen.

## Why is this bad?
An optimizer copies its parameters once, at construction. When that input is empty,
exhausted or of the wrong kind, the optimizer either fails at once or holds nothing worth
training. Generators (`model.parameters()`, `filter(...)`, `map(...)`) can be iterated
only once: the second consumer silently sees an empty sequence.

## What PyTorch does
An empty list, an exhausted generator, or a filter over fully frozen parameters raises
`ValueError: optimizer got an empty parameter list` at construction (an optimizer created
as `SGD([], lr=0.01)` never reaches a later `add_param_group`).
`SGD(model.parameters, lr=0.1)` raises `TypeError: 'method' object is not iterable`;
`SGD(model, lr=0.1)` raises `TypeError: 'Linear' object is not iterable`;
`SGD(model.weight, lr=0.1)` raises `TypeError: params argument given to the optimizer
should be an iterable of Tensors or dicts, but got torch.FloatTensor`;
`SGD(dict(model.named_parameters()), lr=0.1)` raises `TypeError: optimizer can only
optimize Tensors, but one of the params is str`; `SGD([w * 2])` raises
`ValueError: can't optimize a non-leaf Tensor`.
Some cases are silent: `model.state_dict().values()` holds detached copies whose `.grad`
stays `None`, so `step()` skips them and the model never changes; `clip_grad_norm_` given
an exhausted generator or `filter` returns `0.0` and clips nothing (only a generator
triggers a `UserWarning`, a `filter` none); a `for` loop over an exhausted iterator runs
no iterations. `SGD([{'params': []}])` followed by `add_param_group` works, and so does
`SGD(model.named_parameters())`.

## Example
```python
import torch
from torch import nn

model = nn.Linear(4, 2)
params = model.parameters()
optimizer = torch.optim.SGD(params, lr=0.1)
# A second optimizer (for example for a SWA copy) from the same generator:
averaged = torch.optim.SGD(params, lr=0.05)
```

## Use instead
```python
import torch
from torch import nn

model = nn.Linear(4, 2)
params = list(model.parameters())
optimizer = torch.optim.SGD(params, lr=0.1)
averaged = torch.optim.SGD(params, lr=0.05)
for _ in range(2):
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
```

## Fix safety
Adding the missing `()`, materialising a consumed generator with `list(...)` where it is
created, passing `model.parameters()` instead of the module, and wrapping a single tensor
in a list are safe: each turns a program that raises or silently does nothing into the
evident intended one. For `SGD([], ...)` followed by `add_param_group({'params': X})`,
the fix moves the optimizer creation below the statement that creates the model, passes
`X` directly and removes the `add_param_group` call; it reorders statements, so it is
unsafe, and it is offered only when nothing in between uses the optimizer or changes
its inputs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from gradguard.analysis import edits, flow
from gradguard.analysis.names import (
    any_overlap,
    bound_chains,
    chains_overlap,
    loaded_chains,
    mutually_exclusive,
    repeats_in,
)
from gradguard.analysis.optimizers import OptimizerCreation, parameter_owner
from gradguard.analysis.values import GENERATOR_METHODS, ValueKinds
from gradguard.findings import Finding, Fix, FixSafety, Severity, Span, TextEdit
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic.catalogue.tensors import ALWAYS_NON_LEAF_METHODS, DTYPE_CHANGING_CASTS
from gradguard.source import SourceFile

EMPTY_LIST = "ValueError: optimizer got an empty parameter list"
NOT_ITERABLE = "TypeError: params argument given to the optimizer should be an iterable"
ONLY_TENSORS_STR = "TypeError: optimizer can only optimize Tensors, but one of the params is str"
NON_LEAF = "ValueError: can't optimize a non-leaf Tensor"

_CLIP_FUNCTIONS = frozenset(
    {"clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "parameters_to_vector"}
)
_MATERIALISERS = frozenset(
    {"list", "tuple", "set", "frozenset", "sorted", "sum", "dict", "max", "min"}
)
# Tensor methods whose result is a non-leaf when the input requires grad.
_NON_LEAF_METHODS = ALWAYS_NON_LEAF_METHODS | DTYPE_CHANGING_CASTS
# Calls on a frozen model between the freeze and the filter that cannot unfreeze it.
_HARMLESS_MODEL_METHODS = frozenset(
    {
        "eval",
        "train",
        "to",
        "cuda",
        "cpu",
        "double",
        "float",
        "half",
        "bfloat16",
        "zero_grad",
        "parameters",
        "named_parameters",
        "state_dict",
        "modules",
        "children",
    }
)


class _Checker:
    def __init__(self, rule: Rule, context: RuleContext) -> None:
        self.rule = rule
        self.context = context
        self.facts = context.facts
        self.source = context.source
        self.kinds = ValueKinds(context.facts)

    def finding(
        self, where: ast.AST, message: str, severity: Severity, fixes: tuple[Fix, ...] = ()
    ) -> Finding:
        return self.rule.finding(self.context, where, message, severity=severity, fixes=fixes)

    def name_of(self, creation: OptimizerCreation) -> str:
        return flow.dotted_name(creation.call.func) or "the optimizer"

    # -- the argument of one construction ----------------------------------------------

    def check_creation(self, creation: OptimizerCreation) -> Iterator[Finding]:
        params = creation.params
        if params is None:
            return
        scope = creation.scope
        optimizer = self.name_of(creation)
        call = creation.call
        if _is_empty_literal(params, self.kinds):
            yield self.finding(
                call,
                f"`{optimizer}` receives an empty parameter list and raises `{EMPTY_LIST}` "
                "at construction",
                Severity.ERROR,
                tuple(self.add_param_group_fixes(creation)),
            )
            return
        if self.is_missing_call(params, scope):
            yield self.missing_call_finding(call, params, optimizer)
            return
        if self.kinds.is_module(params, scope):
            yield self.finding(
                call,
                f"`{optimizer}` receives the module `{self.source.node_text(params)}` instead "
                "of its parameters and raises `TypeError` at construction (a module is not "
                "an iterable of tensors)",
                Severity.ERROR,
                (_module_fix(self.source.span_of(params)),),
            )
            return
        if self.kinds.is_parameter_tensor(params, scope):
            text = self.source.node_text(params)
            yield self.finding(
                call,
                f"`{optimizer}` receives the single tensor `{text}` and raises `{NOT_ITERABLE} "
                "of Tensors or dicts`",
                Severity.ERROR,
                (
                    Fix(
                        "Wrap in a list",
                        FixSafety.SAFE,
                        (self.source.replace(params, f"[{text}]"),),
                    ),
                ),
            )
            return
        yield from self.check_value_kind(creation, params)
        yield from self.check_groups(creation, params)

    def check_value_kind(self, creation: OptimizerCreation, params: ast.expr) -> Iterator[Finding]:
        """Dicts, ``state_dict().values()``, non-leaf expressions, frozen filters; a name
        is followed to its single assignment."""
        optimizer = self.name_of(creation)
        value = self.single_value(params, creation.scope)
        if self.is_dict_expression(value):
            yield self.finding(
                creation.call,
                f"`{optimizer}` receives a dict, iterates its string keys and raises "
                f"`{ONLY_TENSORS_STR}`",
                Severity.ERROR,
            )
        elif _is_state_dict_values(value, self.kinds):
            yield self.finding(
                creation.call,
                f"`{optimizer}` receives `state_dict()` values, which are detached copies "
                "whose `.grad` stays None, so `step()` skips them and the model is never "
                "trained",
                Severity.WARNING,
            )
        elif self.has_non_leaf_element(value, creation.scope):
            yield self.finding(
                creation.call,
                f"`{optimizer}` receives a tensor computed from one that requires grad (a "
                f"non-leaf) and raises `{NON_LEAF}`",
                Severity.ERROR,
            )
        else:
            frozen_at = self.frozen_filter(value, creation)
            if frozen_at is not None:
                yield self.finding(
                    creation.call,
                    f"Every parameter was frozen at line {frozen_at.lineno}, so the "
                    f"`requires_grad` filter yields nothing and `{optimizer}` raises "
                    f"`{EMPTY_LIST}`",
                    Severity.ERROR,
                )

    def check_groups(self, creation: OptimizerCreation, params: ast.expr) -> Iterator[Finding]:
        """``[{'params': model.parameters}]`` and ``[{'params': model}]``."""
        if not isinstance(params, (ast.List, ast.Tuple)):
            return
        optimizer = self.name_of(creation)
        for element in params.elts:
            if not isinstance(element, ast.Dict):
                continue
            for key, value in zip(element.keys, element.values, strict=False):
                if not (isinstance(key, ast.Constant) and key.value == "params"):
                    continue
                if self.is_missing_call(value, creation.scope):
                    yield self.missing_call_finding(creation.call, value, optimizer)
                elif self.kinds.is_module(value, creation.scope):
                    yield self.finding(
                        creation.call,
                        f"A parameter group of `{optimizer}` holds the module "
                        f"`{self.source.node_text(value)}` instead of its parameters, which "
                        "raises `TypeError` at construction",
                        Severity.ERROR,
                        (_module_fix(self.source.span_of(value)),),
                    )
                elif self.has_non_leaf_element(value, creation.scope) or self.is_non_leaf(
                    value, creation.scope
                ):
                    yield self.finding(
                        creation.call,
                        f"A parameter group of `{optimizer}` holds a tensor computed from one "
                        f"that requires grad (a non-leaf), which raises `{NON_LEAF}`",
                        Severity.ERROR,
                    )

    def is_missing_call(self, expr: ast.expr, scope: flow.Scope) -> bool:
        if not (
            isinstance(expr, ast.Attribute) and expr.attr in ("parameters", "named_parameters")
        ):
            return False
        if self.kinds.is_module(expr.value, scope):
            return True
        return not self.kinds.non_module_parameter_methods

    def missing_call_finding(self, call: ast.Call, attribute: ast.expr, optimizer: str) -> Finding:
        end = self.source.span_of(attribute).end
        fix = Fix("Add the missing `()`", FixSafety.SAFE, (self.source.insert_at(end, "()"),))
        return self.finding(
            call,
            f"`{optimizer}` receives the method `{self.source.node_text(attribute)}` instead "
            "of calling it and raises `TypeError: 'method' object is not iterable`",
            Severity.ERROR,
            (fix,),
        )

    def single_value(self, expr: ast.expr, scope: flow.Scope) -> ast.expr:
        """Follow a name to its value when it is assigned exactly once."""
        if isinstance(expr, ast.Name):
            values = self.kinds.values_of(expr.id, scope)
            if values and len(values) == 1 and not isinstance(values[0], ast.Name):
                return values[0]
        return expr

    def is_dict_expression(self, expr: ast.expr) -> bool:
        if isinstance(expr, (ast.Dict, ast.DictComp)):
            return True
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Name)
            and expr.func.id == "dict"
            and self.kinds.is_builtin("dict")
        ):
            return True
        # model.state_dict() itself (its keys are strings).
        return isinstance(expr, ast.Call) and flow.method_name(expr) == "state_dict"

    def has_non_leaf_element(self, expr: ast.expr, scope: flow.Scope) -> bool:
        if not isinstance(expr, (ast.List, ast.Tuple)):
            return False
        return any(self.is_non_leaf(element, scope) for element in expr.elts)

    def is_non_leaf(self, expr: ast.expr, scope: flow.Scope) -> bool:
        if isinstance(expr, ast.BinOp):
            return self.kinds.is_parameter_tensor(
                expr.left, scope
            ) or self.kinds.is_parameter_tensor(expr.right, scope)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            return self.kinds.is_parameter_tensor(expr.operand, scope)
        if isinstance(expr, ast.Call) and flow.method_name(expr) in _NON_LEAF_METHODS:
            return self.kinds.is_parameter_tensor(expr.func.value, scope)  # type: ignore[attr-defined]
        return False

    # -- frozen model, then a requires_grad filter ---------------------------------------

    def frozen_filter(self, expr: ast.expr, creation: OptimizerCreation) -> ast.stmt | None:
        """The statement that froze every parameter of the filtered model, if the file
        shows that nothing unfroze it before the optimizer was built."""
        owner = _requires_grad_filter_owner(expr, self.kinds)
        if owner is None:
            return None
        statements = self.facts.statements_of(creation.scope)
        target = creation.statement
        for info in reversed(statements[: target.order]):
            if _freezes_everything(info.node, owner):
                return info.node if self.dominates(info, target) else None
            if self.may_unfreeze(info.node, owner):
                return None
        return None

    def dominates(self, earlier: flow.StatementInfo, later: flow.StatementInfo) -> bool:
        """``later`` runs whenever ``earlier`` ran: it is in the same block after it, or
        nested in a statement of that block that comes after it."""
        node: ast.AST | None = later.node
        while node is not None:
            if any(item is node for item in earlier.block):
                index = next(i for i, item in enumerate(earlier.block) if item is node)
                return index > earlier.index
            node = self.facts.parents.get(node)
        return False

    def may_unfreeze(self, stmt: ast.stmt, owner: str) -> bool:
        if any(chains_overlap(owner, chain) for chain in bound_chains(stmt)):
            return True
        for node in flow.own_nodes(stmt):
            if isinstance(node, ast.Attribute) and node.attr == "requires_grad":
                parent = self.facts.parents.get(node)
                is_target = isinstance(parent, ast.Assign) and node in parent.targets
                if is_target and not _is_false(parent.value):  # type: ignore[union-attr]
                    return True
            if isinstance(node, ast.Call):
                if flow.method_name(node) == "requires_grad_":
                    arguments = [*node.args, *(k.value for k in node.keywords)]
                    if not (len(arguments) == 1 and _is_false(arguments[0])):
                        return True
                    continue
                if self.call_touches(node, owner):
                    return True
        return False

    def call_touches(self, call: ast.Call, owner: str) -> bool:
        """The model is passed to a call, or a method that may change it is called."""
        arguments = [*call.args, *(k.value for k in call.keywords)]
        for argument in arguments:
            for chain in loaded_chains(argument):
                harmless = chain.rsplit(".", 1)[-1] in _HARMLESS_MODEL_METHODS
                if chains_overlap(owner, chain) and not harmless:
                    return True
        if isinstance(call.func, ast.Attribute):
            receiver = flow.dotted_name(call.func.value) or ""
            if receiver and chains_overlap(owner, receiver):
                return call.func.attr not in _HARMLESS_MODEL_METHODS
        return False

    # -- SGD([]) followed by add_param_group -------------------------------------------

    def add_param_group_fixes(self, creation: OptimizerCreation) -> Iterator[Fix]:
        if creation.target is None:
            return
        statements = self.facts.statements_of(creation.scope)
        later = statements[creation.statement.order + 1 :]
        adds = [
            (info, call)
            for info in later
            for call in flow.calls_in(info.node)
            if flow.method_name(call) == "add_param_group"
            and flow.dotted_name(call.func.value) == creation.target  # type: ignore[attr-defined]
        ]
        if len(adds) != 1:
            return
        add_info, add_call = adds[0]
        fix = _AddParamGroupMove(self, creation, add_info, add_call).build()
        if fix is not None:
            yield fix

    # -- consumed one-shot iterators ---------------------------------------------------

    def check_iterators(self) -> Iterator[Finding]:
        if not self.may_consume_iterators():
            return
        # Only scopes that bind something that may be a one-shot iterator.
        bindings = (
            node
            for node in self.facts.nodes_of(ast.Assign)
            if self.kinds.may_be_one_shot_iterator(node.value)  # type: ignore[attr-defined]
        )
        for scope in self.facts.scopes_holding(bindings):
            yield from self.check_iterators_in(scope)

    def may_consume_iterators(self) -> bool:
        """Only iterators drawn from ``parameters()``-like methods, or consumed by an
        optimizer or a clipping call, are reported: without any such call, none are.
        (A call that may build an optimizer and could receive an iterator lets them
        through: ``consumer_kind`` asks whether it does, per use.)"""
        calls = cast(list[ast.Call], self.facts.nodes_of(ast.Call))
        if any(
            flow.method_name(call) in GENERATOR_METHODS
            or _callee_last_name(call) in _CLIP_FUNCTIONS
            for call in calls
        ):
            return True
        return any(_may_receive_params(c) for c in self.context.optimizers.possible_calls)

    def check_iterators_in(self, scope: flow.Scope) -> Iterator[Finding]:
        statements = self.facts.statements_of(scope)
        for info in statements:
            node = info.node
            if not (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and self.kinds.is_one_shot_iterator(node.value, scope)
            ):
                continue
            name = node.targets[0].id
            uses = self.consuming_uses(statements, info, name)
            found = list(self.report_exhausted(info, name, uses))
            # Only iterators of parameters concern this rule (not ``iter(loader)``); asked
            # last, as the semantic model's answer can cost seconds.
            if found and (
                any(use.kind in ("optimizer", "clip") for use in uses)
                or self.draws_parameters(node.value)
            ):
                yield from found

    def draws_parameters(self, value: ast.expr) -> bool:
        return _draws_parameters(value) or self.kinds.returns_parameter_generator(
            value  # type: ignore[arg-type]
        )

    def consuming_uses(
        self, statements: list[flow.StatementInfo], binding: flow.StatementInfo, name: str
    ) -> list[_Use]:
        uses: list[_Use] = []
        for info in statements[binding.order + 1 :]:
            for node in flow.own_nodes(info.node):
                if (
                    isinstance(node, ast.Name)
                    and node.id == name
                    and isinstance(node.ctx, ast.Load)
                ):
                    kind = self.consumer_kind(node)
                    if kind is not None:
                        uses.append(_Use(node, info, kind))
            if name in bound_chains(info.node):
                break
        return uses

    def consumer_kind(self, name: ast.Name) -> str | None:
        """How the use consumes the iterator: ``optimizer``, ``clip``, ``list``, ``loop``."""
        parent = self.facts.parents.get(name)
        if isinstance(parent, ast.keyword):
            call = self.facts.parents.get(parent)
            if isinstance(call, ast.Call) and parent.arg == "params":
                return "optimizer" if self.facts.is_optimizer_call(call) else None
            if isinstance(call, ast.Call) and parent.arg == "parameters":
                return "clip" if _callee_last_name(call) in _CLIP_FUNCTIONS else None
            return None
        if isinstance(parent, ast.Dict):
            return self.group_consumer(parent, name)
        if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)) and parent.iter is name:
            # A loop that may ``break`` out early leaves the rest of the iterator.
            return None if _may_break(parent) else "loop"
        if isinstance(parent, ast.Call) and parent.args and parent.args[0] is name:
            if self.facts.is_optimizer_call(parent):
                return "optimizer"
            if _callee_last_name(parent) in _CLIP_FUNCTIONS:
                return "clip"
            func = parent.func
            if isinstance(func, ast.Name) and func.id in _MATERIALISERS:
                return "list" if self.kinds.is_builtin(func.id) else None
        return None

    def group_consumer(self, group: ast.Dict, name: ast.Name) -> str | None:
        """``SGD([{'params': gen}])``: the optimizer consumes the group's iterator."""
        for key, value in zip(group.keys, group.values, strict=False):
            if value is name and isinstance(key, ast.Constant) and key.value == "params":
                container = self.facts.parents.get(group)
                call = self.facts.parents.get(container) if container is not None else None
                if (
                    isinstance(container, (ast.List, ast.Tuple))
                    and isinstance(call, ast.Call)
                    and self.facts.is_optimizer_call(call)
                ):
                    return "optimizer"
        return None

    def report_exhausted(
        self, binding: flow.StatementInfo, name: str, uses: list[_Use]
    ) -> Iterator[Finding]:
        fix = _materialise_fix(self.source, binding.node)
        for position, use in enumerate(uses):
            earlier = next(
                (
                    u
                    for u in uses[:position]
                    if not mutually_exclusive(u.node, use.node, self.facts.parents)
                ),
                None,
            )
            loop = None if earlier else self.repeating_loop(binding, use, name)
            if earlier is None and loop is None:
                continue
            yield self.exhausted_finding(name, use, earlier, loop, fix)

    def repeating_loop(self, binding: flow.StatementInfo, use: _Use, name: str) -> ast.stmt | None:
        """A loop around the use, but not around the iterator's creation, that does not
        create it again: its second iteration sees the iterator exhausted."""
        for loop in use.statement.loops:
            if loop in binding.loops or not repeats_in(use.node, loop, self.facts.parents):
                continue
            if use.kind == "loop" and use.node is getattr(loop, "iter", None):
                continue
            rebinds = any(
                name in bound_chains(stmt)
                for stmt in ast.walk(loop)
                if isinstance(stmt, ast.stmt) and stmt is not loop
            )
            if not rebinds:
                return loop
        return None

    def exhausted_finding(
        self,
        name: str,
        use: _Use,
        earlier: _Use | None,
        loop: ast.stmt | None,
        fix: Fix | None,
    ) -> Finding:
        if earlier is not None:
            cause = (
                f"`{name}` is a one-shot iterator already consumed on line "
                f"{earlier.node.lineno} ({_CONSUMED_BY[earlier.kind]})"
            )
        else:
            cause = (
                f"`{name}` is a one-shot iterator that the first iteration of the loop on "
                f"line {loop.lineno if loop else 0} consumes"
            )
        effect, severity = _EFFECT[use.kind]
        if earlier is None:
            effect = f"in every later iteration {effect}"
        where: ast.AST | None = use.node
        if use.kind != "loop":
            # The call that receives the iterator (through a keyword or a group dict).
            while where is not None and not isinstance(where, ast.Call):
                where = self.facts.parents.get(where)
        return self.finding(
            where or use.node, f"{cause}, so {effect}", severity, (fix,) if fix else ()
        )


@dataclass(frozen=True)
class _Use:
    node: ast.Name
    statement: flow.StatementInfo
    kind: str


_CONSUMED_BY = {
    "optimizer": "by an optimizer",
    "clip": "by gradient clipping",
    "list": "by a call that materialises it",
    "loop": "by a loop",
}
_EFFECT = {
    "optimizer": (f"this optimizer receives nothing and raises `{EMPTY_LIST}`", Severity.ERROR),
    "clip": (
        "gradient clipping here sees no parameters, returns 0.0 and clips nothing",
        Severity.WARNING,
    ),
    "list": ("this call receives an empty sequence", Severity.WARNING),
    "loop": ("this loop runs no iterations", Severity.WARNING),
}


def _may_receive_params(call: ast.Call) -> bool:
    """Where ``consumer_kind`` looks for an iterator: a positional argument (or a group
    list there) or ``params=``."""
    return bool(call.args) or any(k.arg == "params" for k in call.keywords)


def _draws_parameters(expr: ast.expr) -> bool:
    return any(
        isinstance(node, ast.Call) and flow.method_name(node) in GENERATOR_METHODS
        for node in ast.walk(expr)
    )


def _may_break(loop: ast.AST) -> bool:
    if isinstance(loop, ast.comprehension):
        return False
    stack: list[ast.AST] = list(getattr(loop, "body", []))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (*flow.LOOP_TYPES, *flow.SCOPE_TYPES)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _callee_last_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _is_empty_literal(expr: ast.expr, kinds: ValueKinds) -> bool:
    if isinstance(expr, (ast.List, ast.Tuple)):
        return not expr.elts
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        return (
            expr.func.id in ("list", "tuple")
            and not expr.args
            and not expr.keywords
            and kinds.is_builtin(expr.func.id)
        )
    return False


def _inside_list_call(expr: ast.expr, kinds: ValueKinds) -> ast.expr:
    """``x`` for the builtin ``list(x)`` / ``tuple(x)``; otherwise ``expr`` itself."""
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id in ("list", "tuple")
        and len(expr.args) == 1
        and kinds.is_builtin(expr.func.id)
    ):
        return expr.args[0]
    return expr


def _is_state_dict_values(expr: ast.expr, kinds: ValueKinds) -> bool:
    expr = _inside_list_call(expr, kinds)
    return (
        isinstance(expr, ast.Call)
        and flow.method_name(expr) == "values"
        and isinstance(expr.func.value, ast.Call)  # type: ignore[attr-defined]
        and flow.method_name(expr.func.value) == "state_dict"  # type: ignore[attr-defined]
        and not any(k.arg == "keep_vars" for k in expr.func.value.keywords)  # type: ignore[attr-defined]
    )


def _module_fix(span: Span) -> Fix:
    return Fix(
        "Pass `.parameters()`",
        FixSafety.SAFE,
        (TextEdit(Span(span.end, span.end), ".parameters()"),),
    )


def _materialise_fix(source: SourceFile, binding: ast.stmt) -> Fix | None:
    if not isinstance(binding, ast.Assign):
        return None
    value = binding.value
    return Fix(
        "Materialise it once with `list(...)`",
        FixSafety.SAFE,
        (source.replace(value, f"list({source.node_text(value)})"),),
    )


# -- frozen models ---------------------------------------------------------------------


def _requires_grad_filter_owner(expr: ast.expr, kinds: ValueKinds) -> str | None:
    """``model`` for ``filter(lambda p: p.requires_grad, model.parameters())`` and
    ``[p for p in model.parameters() if p.requires_grad]`` (also inside ``list(...)``)."""
    expr = _inside_list_call(expr, kinds)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        if expr.func.id != "filter" or not kinds.is_builtin("filter") or len(expr.args) != 2:
            return None
        test, source = expr.args
        if not (
            isinstance(test, ast.Lambda)
            and len(test.args.args) == 1
            and _is_requires_grad_of(test.body, test.args.args[0].arg)
        ):
            return None
        return _parameters_owner(source)
    if isinstance(expr, (ast.ListComp, ast.GeneratorExp)) and len(expr.generators) == 1:
        generator = expr.generators[0]
        if not isinstance(generator.target, ast.Name) or len(generator.ifs) != 1:
            return None
        variable = generator.target.id
        if not (
            isinstance(expr.elt, ast.Name)
            and expr.elt.id == variable
            and _is_requires_grad_of(generator.ifs[0], variable)
        ):
            return None
        return _parameters_owner(generator.iter)
    return None


def _parameters_owner(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Call) and flow.method_name(expr) == "parameters":
        return parameter_owner(expr)
    return None


def _is_requires_grad_of(expr: ast.expr, variable: str) -> bool:
    return (
        isinstance(expr, ast.Attribute)
        and expr.attr == "requires_grad"
        and isinstance(expr.value, ast.Name)
        and expr.value.id == variable
    )


def _is_false(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is False


def _freezes_everything(stmt: ast.stmt, owner: str) -> bool:
    """``model.requires_grad_(False)`` or a loop over ``model.parameters()`` (or
    ``named_parameters()``) whose whole body freezes the loop variable."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        if flow.method_name(call) == "requires_grad_":
            receiver = flow.dotted_name(call.func.value)  # type: ignore[attr-defined]
            arguments = [*call.args, *(k.value for k in call.keywords)]
            return receiver == owner and len(arguments) == 1 and _is_false(arguments[0])
        return False
    if not isinstance(stmt, ast.For) or stmt.orelse:
        return False
    iterated = stmt.iter
    if not (
        isinstance(iterated, ast.Call)
        and flow.method_name(iterated) in ("parameters", "named_parameters")
        and parameter_owner(iterated) == owner
    ):
        return False
    target = stmt.target
    if flow.method_name(iterated) == "named_parameters":
        if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
            return False
        target = target.elts[1]
    if not isinstance(target, ast.Name):
        return False
    return all(_freezes_variable(body, target.id) for body in stmt.body)


def _freezes_variable(stmt: ast.stmt, variable: str) -> bool:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        return _is_requires_grad_of(stmt.targets[0], variable) and _is_false(stmt.value)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        return (
            flow.method_name(call) == "requires_grad_"
            and flow.dotted_name(call.func.value) == variable  # type: ignore[attr-defined]
            and len(call.args) == 1
            and _is_false(call.args[0])
        )
    return False


# -- the add_param_group move ----------------------------------------------------------


class _AddParamGroupMove:
    """Build ``opt = SGD(X, ...)`` below the model's creation and drop
    ``opt.add_param_group({'params': X})``; None when that cannot be made correct."""

    def __init__(
        self,
        checker: _Checker,
        creation: OptimizerCreation,
        add_info: flow.StatementInfo,
        add_call: ast.Call,
    ) -> None:
        self.checker = checker
        self.source = checker.source
        self.creation = creation
        self.add_info = add_info
        self.add_call = add_call
        self.statements = checker.facts.statements_of(creation.scope)

    def build(self) -> Fix | None:
        group = self.group_argument()
        add_stmt = self.add_info.node
        creation_stmt = self.creation.statement
        if group is None or not (
            isinstance(add_stmt, ast.Expr) and add_stmt.value is self.add_call
        ):
            return None
        params_text = self.params_text(group)
        if params_text is None or not edits.owns_its_lines(self.source, add_stmt):
            return None
        model_info = self.model_statement(group)
        if model_info is None:
            return None
        replace_params = self.source.replace(self.creation.params, params_text)  # type: ignore[arg-type]
        remove_add = edits.owned_removal_edit(self.source, add_stmt, self.add_info.block)
        if model_info.order < creation_stmt.order:
            return self.fix("Pass the parameters to the optimizer", (replace_params, remove_add))
        return self.moved_fix(model_info, group, remove_add)

    def group_argument(self) -> ast.Dict | None:
        call = self.add_call
        if len(call.args) == 1 and not call.keywords and isinstance(call.args[0], ast.Dict):
            group = call.args[0]
            if None not in group.keys and any(
                isinstance(k, ast.Constant) and k.value == "params" for k in group.keys
            ):
                return group
        return None

    def params_text(self, group: ast.Dict) -> str | None:
        if len(group.keys) == 1:
            return self.source.node_text(group.values[0])
        return f"[{self.source.node_text(group)}]"

    def model_statement(self, group: ast.Dict) -> flow.StatementInfo | None:
        """The last statement before ``add_param_group`` that binds a name the group
        reads; it must share the optimizer creation's block."""
        reads = loaded_chains(group)
        found = None
        for info in self.statements[: self.add_info.order]:
            if any_overlap(reads, bound_chains(info.node)):
                found = info
        if found is None or found.block is not self.creation.statement.block:
            return None
        # Nothing after the model's creation may change what the group reads.
        for info in self.statements[found.order + 1 : self.add_info.order]:
            if any_overlap(reads, bound_chains(info.node)):
                return None
        return found

    def moved_fix(
        self, model_info: flow.StatementInfo, group: ast.Dict, remove_add: TextEdit
    ) -> Fix | None:
        creation_stmt = self.creation.statement
        node = creation_stmt.node
        if not edits.owns_its_lines(self.source, node):
            return None
        if not edits.owns_its_lines(self.source, model_info.node):
            return None
        between = self.statements[creation_stmt.order + 1 : model_info.order + 1]
        uses = {self.creation.target or ""} | loaded_chains(node)
        for info in between:
            if self.uses_any(info.node, uses):
                return None
        if any(info.order == self.add_info.order for info in between):
            return None
        moved = self.moved_text(node)
        if moved is None:
            return None
        insert = edits.insert_after_edit(self.source, model_info.node, moved)
        if insert is None:
            return None
        return self.fix(
            f"Create the optimizer below line {model_info.node.end_lineno} from the added "
            "parameters",
            (edits.owned_removal_edit(self.source, node, creation_stmt.block), insert, remove_add),
        )

    def uses_any(self, stmt: ast.stmt, chains: set[str]) -> bool:
        """The statement reads the optimizer or rebinds one of the creation's inputs."""
        target = self.creation.target or ""
        reads = loaded_chains(stmt) if not isinstance(stmt, flow.SCOPE_TYPES) else set()
        for part in flow.header_nodes(stmt):
            reads |= loaded_chains(part)
        if target and any(chains_overlap(target, r) for r in reads):
            return True
        return any_overlap(chains - {target}, bound_chains(stmt))

    def moved_text(self, node: ast.stmt) -> str | None:
        """The creation statement's lines with ``[]`` replaced by the group's parameters
        (it stays in its block, so its indentation is unchanged)."""
        params = self.creation.params
        group = self.group_argument()
        if params is None or group is None:
            return None
        text = self.params_text(group)
        if text is None:
            return None
        lines = self.source.statement_lines(node)
        start = self.source.offset(lines.start)
        params_span = self.source.span_of(params)
        before = self.source.text[start : self.source.offset(params_span.start)]
        after = self.source.text[
            self.source.offset(params_span.end) : self.source.offset(lines.end)
        ]
        moved = before + text + after
        if not moved.endswith(("\n", "\r")):
            moved += self.source.newline
        return moved

    def fix(self, title: str, edits_: tuple[TextEdit, ...]) -> Fix:
        return Fix(title, FixSafety.UNSAFE, edits_)


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    checker = _Checker(rule, context)
    # check_creation reads only its creation and the file: jedi is asked whether the
    # call builds an optimizer only when its argument would be reported.
    yield from context.optimizers.findings_of_each(checker.check_creation)
    yield from checker.check_iterators()


RULE = Rule(
    code="GG101",
    name="empty-parameter-list",
    summary="Optimizer receives no trainable parameters, or something that is not an "
    "iterable of tensors",
    severity=Severity.ERROR,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("ValueError", "optimizer got an empty parameter list"),
)
