"""## What it does
Checks for a second `backward()` through the same graph without `retain_graph=True`
and without a new forward pass in between:

- two `loss.backward()` calls on the same `loss` (no reassignment between them);
- `loss.backward()` in a loop whose body never recomputes `loss`;
- a recurrent state carried into the next iteration without `.detach()`:
  `output, hidden = model(data, hidden)` in a training loop, where the next iteration's
  backward goes back through the previous iteration's graph.

Not reported: `retain_graph=True` on the earlier backward; a fresh forward before the
second backward (`loss` reassigned); backwards in different branches of an `if`; a
hidden state rebound each batch (`hidden = hidden.detach()`, `hidden =
repackage_hidden(hidden)`, a new `init_hidden()`) or detached in place
(`hidden.detach_()`). A `hidden.detach()` whose result is thrown away does not detach
anything and does not count.

It is an error when the graph saved tensors for backward (a model or most operations:
PyTorch raises), and a warning when it visibly saved none (`w.sum()`, `(w + 1).mean()`:
the gradient silently doubles).

## Why is this bad?
`backward()` frees the tensors the graph saved for it. A second backward through the
same graph either fails or, when nothing was saved, adds the same gradient twice, so
the step is twice as large as intended. With a carried recurrent state the failure
comes at the second batch of every run.

## What PyTorch does
Measured on torch 2.13.0: a second backward through a graph with saved tensors (`w * x`,
`2 * w`, `relu`, `nn.Linear`, an RNN) raises
`RuntimeError: Trying to backward through the graph a second time (or directly access
saved tensors after they have already been freed)`. Through `w.sum()`, `(w + 1).sum()`
or `w.mean()` nothing was saved: no error, the gradient doubles ([1, 1, 1] becomes
[2, 2, 2]). An RNN whose hidden state is carried across batches without `detach()`
trains the first batch and raises this error at the second; with
`hidden = hidden.detach()` every batch trains.

## Example
```python
import torch
from torch import nn

rnn = nn.RNN(4, 8)
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.1)
hidden = torch.zeros(1, 2, 8)
for step in range(3):
    x = torch.randn(5, 2, 4)
    optimizer.zero_grad()
    out, hidden = rnn(x, hidden)
    out.sum().backward()
    optimizer.step()
```

## Use instead
```python
import torch
from torch import nn

rnn = nn.RNN(4, 8)
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.1)
hidden = torch.zeros(1, 2, 8)
for step in range(3):
    hidden = hidden.detach()
    x = torch.randn(5, 2, 4)
    optimizer.zero_grad()
    out, hidden = rnn(x, hidden)
    out.sum().backward()
    optimizer.step()
```

## Fix safety
For a carried state, the fix inserts `hidden = hidden.detach()` as the first statement
of the loop. It is unsafe: gradients no longer flow into earlier batches (truncated
backpropagation through time, which is what the training can run at all). It is offered
only when the state is a tensor made by a `torch` factory before the loop (`torch.zeros`),
so that `.detach()` exists on it. Two backwards on the same loss get no fix: whether the
second one should go (or the first keep the graph) is the author's choice.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator

from gradguard.analysis import edits, flow
from gradguard.analysis import names as names_of
from gradguard.analysis.tensors import factory_name, is_grad_factory
from gradguard.findings import Finding, Fix, FixSafety, RelatedLocation, Severity
from gradguard.rules.base import FixAvailability, Raises, Rule, RuleContext
from gradguard.semantic import backwards, grad_mode, grad_values
from gradguard.semantic.step_queries import describe, is_before

_RAISES = "RuntimeError: Trying to backward through the graph a second time"
# Operations whose backward needs no saved tensor (measured: sum, mean, +, view).
_SAVE_FREE_METHODS = frozenset(
    {"sum", "mean", "view", "reshape", "flatten", "squeeze", "unsqueeze"}
)


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    facts = context.facts
    backwards = [
        n
        for n in facts.nodes_of(ast.Call)
        if isinstance(n, ast.Call) and flow.method_name(n) in ("backward", "manual_backward")
    ]
    if not backwards:
        return
    yield from _repeated_backwards(rule, context, backwards)
    for statement in facts.nodes_of(ast.Assign):
        assert isinstance(statement, ast.Assign)
        found = _carried_state(rule, context, statement)
        if found is not None:
            yield found


# -- the same loss backward-ed twice ------------------------------------------------------


def _repeated_backwards(
    rule: Rule, context: RuleContext, backwards: list[ast.Call]
) -> Iterator[Finding]:
    facts = context.facts
    by_loss: dict[tuple[ast.AST, str], list[ast.Call]] = {}
    for call in backwards:
        loss = _loss_name(call)
        statement = facts.enclosing_statement(call)
        if loss is None or statement is None or _retains(call) is not False:
            continue
        if grad_mode.expects_an_error(facts, call):
            continue
        by_loss.setdefault((facts.enclosing_scope(statement), loss), []).append(call)
    for (_, loss), calls in by_loss.items():
        calls.sort(key=lambda c: (c.lineno, c.col_offset))
        for first, second in itertools.pairwise(calls):
            if _same_graph(context, loss, first, second):
                yield _twice_finding(rule, context, loss, first, second)
        for call in calls:
            loop = _loop_not_recomputing(context, loss, call)
            if loop is not None:
                yield _twice_finding(rule, context, loss, call, call, loop)


def _loss_name(call: ast.Call) -> str | None:
    """``loss`` for ``loss.backward()``, ``scaler.scale(loss).backward()``, ``(loss / k)``,
    ``accelerator.backward(loss)``."""
    receiver = backwards.backward_subject(call)
    if isinstance(receiver, ast.BinOp) and isinstance(receiver.right, ast.Constant):
        receiver = receiver.left
    return receiver.id if isinstance(receiver, ast.Name) else None


def _retains(call: ast.Call) -> bool | None:
    """``retain_graph=True`` (True), absent or ``False`` (False), a variable (None)."""
    for keyword in call.keywords:
        if keyword.arg in ("retain_graph", "create_graph"):
            value = keyword.value
            return None if not isinstance(value, ast.Constant) else bool(value.value)
    return None if len(call.args) >= 2 else False


def _same_graph(context: RuleContext, loss: str, first: ast.Call, second: ast.Call) -> bool:
    facts = context.facts
    first_statement = facts.enclosing_statement(first)
    second_statement = facts.enclosing_statement(second)
    if first_statement is None or second_statement is None or first_statement is second_statement:
        return False
    if names_of.mutually_exclusive(first, second, facts.parents):
        return False
    if not grad_values.dominates(facts, first_statement, second_statement):
        return False
    before = grad_values.reaching(facts, loss, first_statement) or []
    after = grad_values.reaching(facts, loss, second_statement) or []
    return bool(before) and _statements(before) == _statements(after)


def _loop_not_recomputing(context: RuleContext, loss: str, call: ast.Call) -> ast.stmt | None:
    """The innermost loop around ``call`` in whose body ``loss`` is never bound."""
    facts = context.facts
    statement = facts.enclosing_statement(call)
    bindings = grad_values.reaching(facts, loss, statement) if statement else None
    if not bindings:
        return None
    for parent in facts.ancestors(call):
        if isinstance(parent, flow.SCOPE_TYPES):
            return None
        if isinstance(parent, flow.LOOP_TYPES):
            if any(
                b.statement is parent or grad_values.inside(facts, b.statement, parent)
                for b in bindings
            ):
                return None
            if any(isinstance(n, (ast.Break, ast.Return)) for n in flow.walk_local(parent)):
                return None
            return parent
    return None


def _statements(bindings: list[grad_values.Binding]) -> set[int]:
    return {id(b.statement) for b in bindings}


def _twice_finding(
    rule: Rule,
    context: RuleContext,
    loss: str,
    first: ast.Call,
    second: ast.Call,
    loop: ast.stmt | None = None,
) -> Finding:
    source = context.source
    statement = context.facts.enclosing_statement(first)
    saves = statement is None or _saves_tensors(context, ast.Name(loss, ast.Load()), statement, 0)
    outcome = (
        f"PyTorch raises `{_RAISES}`"
        if saves
        else "its graph saved no tensors, so it runs and silently adds the same gradient "
        "again (the gradients double)"
    )
    text = describe(source.node_text(second), "`backward()`")
    if loop is not None:
        message = (
            f"{text} runs in every iteration of this loop, but `{loss}` is computed before "
            "it: the second iteration goes back through the same graph without "
            f"`retain_graph=True`, and {outcome}"
        )
        related = [RelatedLocation(source.span_of(loop), "the loop that repeats it")]
    else:
        message = (
            f"{text} is a second backward through the graph of `{loss}` (already "
            f"backward-ed at line {first.lineno}, without `retain_graph=True` and without a "
            f"new forward in between): {outcome}"
        )
        related = [RelatedLocation(source.span_of(first), "the first backward")]
    severity = Severity.ERROR if saves else Severity.WARNING
    return rule.finding(context, second, message, severity=severity, related=related)


def _saves_tensors(context: RuleContext, expr: ast.AST, at: ast.stmt, depth: int) -> bool:
    """Whether the graph behind ``expr`` saved a tensor for backward; True unless every
    operation is visibly save-free (``sum``, ``mean``, ``+``, ``view``) on leaves."""
    facts = context.facts
    if depth > 5:
        return True
    if isinstance(expr, ast.Constant):
        return False
    if isinstance(expr, ast.Name):
        bindings = grad_values.reaching(facts, expr.id, at)
        if not bindings or any(b.value is None or b.unpacked for b in bindings):
            return True
        return any(_saves_tensors(context, b.value, b.statement, depth + 1) for b in bindings)  # type: ignore[arg-type]
    if isinstance(expr, ast.Call):
        if is_grad_factory(facts, expr) or facts.is_parameter_call(expr):
            return False
        if flow.method_name(expr) in _SAVE_FREE_METHODS:
            return _saves_tensors(context, expr.func.value, at, depth + 1)  # type: ignore[attr-defined]
        return True
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Sub)):
        return _saves_tensors(context, expr.left, at, depth + 1) or _saves_tensors(
            context, expr.right, at, depth + 1
        )
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        return _saves_tensors(context, expr.operand, at, depth + 1)
    return True


# -- a recurrent state carried across iterations ------------------------------------------


def _carried_state(rule: Rule, context: RuleContext, statement: ast.Assign) -> Finding | None:
    """``out, hidden = model(x, hidden)`` in a training loop that never detaches ``hidden``."""
    facts = context.facts
    value = statement.value
    if not grad_values.is_model_call(facts, value):
        return None
    assert isinstance(value, ast.Call)
    passed = {n.id for a in (*value.args, *(k.value for k in value.keywords)) for n in _names(a)}
    carried = [n for n in _target_names(statement) if n in passed]
    if not carried:
        return None
    loop = _training_loop(context, statement)
    if loop is None or any(_detached_in(context, loop, name, statement) for name in carried):
        return None
    backward = _any_backward(loop)
    if backward is None or _retains(backward) is not False:
        return None
    source = context.source
    state = ", ".join(f"`{n}`" for n in carried)
    verb = "is" if len(carried) == 1 else "are"
    message = (
        f"{state} {verb} carried into the next iteration without `.detach()`: the next "
        f"{describe(source.node_text(backward), '`backward()`')} goes back through this "
        f"iteration's graph, which this iteration's backward already freed, and PyTorch "
        f"raises `{_RAISES}`"
    )
    related = [RelatedLocation(source.span_of(backward), "the backward through it")]
    return rule.finding(
        context, statement, message, related=related, fixes=_detach_fix(context, loop, carried)
    )


def _names(expr: ast.AST) -> list[ast.Name]:
    """Names passed as they are or in a tuple: ``hidden``, ``(h, c)``."""
    if isinstance(expr, ast.Name):
        return [expr]
    if isinstance(expr, (ast.Tuple, ast.List)):
        return [n for e in expr.elts for n in _names(e)]
    return []


def _target_names(statement: ast.Assign) -> list[str]:
    return [n.id for target in statement.targets for n in _names(target)]


def _training_loop(context: RuleContext, statement: ast.stmt) -> ast.stmt | None:
    for parent in context.facts.ancestors(statement):
        if isinstance(parent, flow.SCOPE_TYPES):
            return None
        if isinstance(parent, flow.LOOP_TYPES) and _any_backward(parent) is not None:
            return parent
    return None


def _any_backward(loop: ast.stmt) -> ast.Call | None:
    for node in flow.walk_local(loop):
        if isinstance(node, ast.Call) and flow.method_name(node) == "backward":
            return node
    return None


def _detached_in(context: RuleContext, loop: ast.stmt, name: str, carry: ast.stmt) -> bool:
    """Anything in the loop that may cut the state's graph: another binding of the name
    (``hidden = hidden.detach()``, ``repackage_hidden(hidden)``, a fresh state) or an
    in-place ``detach_()`` on it or its parts. ``hidden.detach()`` alone, its result
    thrown away, cuts nothing."""
    for node in flow.walk_local(loop):
        if isinstance(node, ast.stmt) and node is not carry and name in names_of.names_bound(node):
            if not isinstance(node, (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.Try)):
                return True
            if isinstance(node, (ast.For, ast.AsyncFor)) and name in {
                n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)
            }:
                return True
        if isinstance(node, ast.Call) and flow.method_name(node) == "detach_":
            return True
        if (
            isinstance(node, ast.Call)
            and flow.method_name(node) == "detach"
            and flow.dotted_name(node.func.value) == name  # type: ignore[attr-defined]
            and _class_detaches_itself(context)
        ):
            return True
    return False


def _class_detaches_itself(context: RuleContext) -> bool:
    """A class of this file whose ``detach()`` stores into ``self`` (a state object that
    really detaches); one that only rebinds a local (``h = self.h.detach()``) does not."""
    for info in context.facts.classes.values():
        method = info.methods.get("detach")
        if method is not None and any(
            isinstance(t, ast.Attribute) and flow.dotted_name(t.value) == "self"
            for n in ast.walk(method)
            if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign))
            for t in flow.assigned_targets(n)
        ):
            return True
    return False


def _detach_fix(context: RuleContext, loop: ast.stmt, carried: list[str]) -> list[Fix]:
    facts, source = context.facts, context.source
    first = loop.body[0]  # type: ignore[attr-defined]
    if not edits.starts_its_line(source, first):
        return []
    for name in carried:
        bindings = grad_values.reaching(facts, name, loop) or []
        if not bindings or not all(
            b.value is not None and factory_name(facts, b.value) and is_before(b.statement, loop)
            for b in bindings
        ):
            return []
    indentation = source.indentation_of(edits.first_line(first))
    targets = ", ".join(carried)
    values = ", ".join(f"{n}.detach()" for n in carried)
    text = f"{indentation}{targets} = {values}{source.newline}"
    title = f"Detach {', '.join(f'`{n}`' for n in carried)} at the start of each iteration"
    return [Fix(title, FixSafety.UNSAFE, (edits.insert_before_edit(source, first, text),))]


RULE = Rule(
    code="GG507",
    name="backward-twice",
    summary="A second `backward()` through the same graph (or a carried state not detached)",
    severity=Severity.ERROR,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Raises("RuntimeError", "Trying to backward through the graph a second time"),
    use_instead_check="assert step == 2",
    required_words=("torch",),
    required_text=r"backward\(",
)
