"""Questions the training-step rules ask about events: can two of them run in the
same iteration, is a condition a gradient-accumulation condition, does a clearing
empty the gradients an optimizer steps, and the small text questions of the fixes."""

from __future__ import annotations

import ast

from gradguard.analysis import flow
from gradguard.semantic.step_events import Guard, StepEvent
from gradguard.semantic.steps import TrainingSteps

_ACCUMULATION_WORDS = ("accum", "sync_gradients", "update_freq", "grad_steps")


def mutually_exclusive(a: StepEvent, b: StepEvent) -> bool:
    """The two events never run in the same pass through the region: they sit in the
    two branches of one ``if`` (or two cases of one ``match``), or in branches of two
    ``if`` statements with the same test (``if args.amp: ... else: ...`` twice)."""
    for x in a.guards:
        for y in b.guards:
            if _exclusive(x, y):
                return True
    return False


def _exclusive(x: Guard, y: Guard) -> bool:
    if x.owner is y.owner:
        return x.part != y.part and (
            isinstance(x.owner, ast.If) or (x.part.startswith("case") and y.part.startswith("case"))
        )
    if x.test is None or y.test is None:
        return False
    test_x, when_x = _unnegated(x.test, x.when)
    test_y, when_y = _unnegated(y.test, y.when)
    return when_x != when_y and ast.dump(test_x) == ast.dump(test_y)


def _unnegated(test: ast.expr, when: bool) -> tuple[ast.expr, bool]:
    while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, when = test.operand, not when
    # ``x is None`` / ``x is not None``: one question, two answers.
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.IsNot):
        return ast.Compare(test.left, [ast.Is()], test.comparators), not when
    return test, when


def is_accumulation_test(test: ast.expr) -> bool:
    """``(i + 1) % k == 0``, ``step % accum_steps == 0``, ``accelerator.sync_gradients``,
    ``(i + 1) % args.gradient_accumulation_steps``: a condition that holds every k-th
    iteration."""
    for node in ast.walk(test):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            return True
        name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
        if isinstance(name, str) and any(w in name.lower() for w in _ACCUMULATION_WORDS):
            return True
    return False


def accumulation_guard(event: StepEvent) -> Guard | None:
    """The innermost ``if`` block with an accumulation condition around the event."""
    for guard in reversed(event.guards):
        if guard.test is not None and guard.when and is_accumulation_test(guard.test):
            return guard
    return None


def in_inner_loop(event: StepEvent) -> bool:
    return any(g.part == "loop" for g in event.guards)


def clears_optimizer(analysis: TrainingSteps, clear: StepEvent, optimizer: str) -> bool | None:
    """Whether a clearing empties the gradients ``optimizer`` steps (None: cannot tell)."""
    target = clear.target
    if target is None:
        return None
    if clear.on_optimizer:
        return target == optimizer
    models = {m for c in analysis.optimizers.bound_to(optimizer) for m in c.models}
    if not models:
        return None
    if all(m == target or m.startswith(target + ".") for m in models):
        return True
    if any(target.startswith(m + ".") for m in models):
        return None  # clears only a part of what the optimizer holds
    return False


def is_before(a: ast.AST, b: ast.AST) -> bool:
    return (getattr(a, "lineno", 0), getattr(a, "col_offset", 0)) < (
        getattr(b, "lineno", 0),
        getattr(b, "col_offset", 0),
    )


# -- small questions the fixes ask -------------------------------------------------


def starts_its_line(source_line: str, stmt: ast.stmt) -> bool:
    """The statement is the first thing on its line (no ``a; b`` or ``for x in y: b``)."""
    prefix = source_line.encode("utf-8", "surrogatepass")[: stmt.col_offset]
    return not prefix.strip()


def binds_name(nodes: list[ast.stmt], name: str) -> bool:
    """Whether any of ``nodes`` (re)binds ``name`` (assignment, loop target, ``with as``,
    walrus, import, ``del``)."""
    for root in nodes:
        for node in flow.walk_local(root):
            if (
                isinstance(node, ast.Name)
                and node.id == name
                and not isinstance(node.ctx, ast.Load)
            ):
                return True
            if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (alias.asname or alias.name).split(".")[0] == name for alias in node.names
            ):
                return True
    return False


def describe(source_text: str, fallback: str) -> str:
    """Short code for messages: the call's text when it fits on one line."""
    text = source_text.strip()
    if text and "\n" not in text and len(text) <= 60:
        return f"`{text}`"
    return fallback


def same_guard(a: Guard, b: Guard) -> bool:
    """The same block, or blocks of two ``if`` statements taken on the same answer to
    the same test."""
    if a.owner is b.owner:
        return a.part == b.part
    if a.test is None or b.test is None:
        return False
    test_a, when_a = _unnegated(a.test, a.when)
    test_b, when_b = _unnegated(b.test, b.when)
    return when_a == when_b and ast.dump(test_a) == ast.dump(test_b)
