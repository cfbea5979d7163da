"""What a name of a training step holds: an optimizer, a GradScaler, a scheduler.

The one place the step layer asks this. It reads every assignment of the dotted name in
the file (``scaler = GradScaler()``, ``self.scheduler = StepLR(...)`` in a trainer's
``__init__``), from the model's bindings and heap stores (``assigned``); a value that is
not a constructor call (an alias, a same-file helper such as ``make_scaler(args)``) is
what the semantic model says it holds, when it knows every object. When the file does
not assign the name, its spelling decides (a ``train_one_epoch(model, loader, optimizer,
scheduler, scaler)`` parameter). Names that the file binds to something else are not
guessed. What a constructor call makes is read
in ``training_objects``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.optimizers import OptimizerIndex
from gradguard.analysis.resolution import SymbolKind
from gradguard.semantic import training_objects
from gradguard.semantic.assigned import assigned_values
from gradguard.semantic.catalogue import training
from gradguard.semantic.model import SemanticModel
from gradguard.semantic.objects import NONE_VALUE, UNKNOWN

_OPTIMIZER_SPELLING = re.compile(
    r"^(opt|optim|optimizer|optimiser)(_\w+|\d+|[A-Z]\w*)?$"
    r"|^\w+_(opt|optim|optimizer|optimiser)$"
    r"|^(optimizer|optimiser)\w*$"
)
_NOT_AN_OPTIMIZER_SPELLING = re.compile(r"sched|scaler|lr_|warmup|options", re.IGNORECASE)
_SCALER_SPELLING = re.compile(r"^(\w+_)?(grad_?)?scaler$", re.IGNORECASE)
_SCHEDULER_SPELLING = re.compile(
    r"^(\w+_)?(lr_?)?(scheduler|sched|schedule)(_\w+|\d+)?$", re.IGNORECASE
)
_ACCELERATOR_SPELLING = re.compile(r"^(\w+_)?accelerator$")


def spelled_like_optimizer(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return bool(_OPTIMIZER_SPELLING.match(last)) and not _NOT_AN_OPTIMIZER_SPELLING.search(last)


@dataclass(frozen=True)
class Scaler:
    # True/False when the constructor's ``enabled=`` is a literal; None when unknown.
    enabled: bool | None


@dataclass(frozen=True)
class Scheduler:
    # ``"StepLR"``; None when the file does not show the class.
    class_name: str | None
    # The optimizer the constructor was given (its dotted name), when it is a name.
    optimizer: str | None
    # False for a same-file or third-party class that does not step like torch's.
    torch_semantics: bool = True

    @property
    def plateau(self) -> bool:
        return training.is_plateau(self.class_name)


def _alternatives(value: ast.expr) -> list[ast.expr]:
    """The values a conditional expression may give (``a if c else b``)."""
    if isinstance(value, ast.IfExp):
        return _alternatives(value.body) + _alternatives(value.orelse)
    return [value]


def roles(facts: ModuleFacts, optimizers: OptimizerIndex) -> Roles:
    return facts.shared(Roles, lambda: Roles(facts, optimizers))


class Roles:
    def __init__(self, facts: ModuleFacts, optimizers: OptimizerIndex) -> None:
        self.facts = facts
        self.optimizers = optimizers
        self._optimizer: dict[str, bool] = {}
        self._scaler: dict[str, Scaler | None] = {}
        self._scheduler: dict[str, Scheduler | None] = {}

    def _values(self, name: str) -> list[ast.expr]:
        return assigned_values(SemanticModel.of(self.facts), name)

    def _calls(self, name: str) -> list[ast.Call] | None:
        """The constructor calls whose objects ``name`` is assigned (``x = C(...)``,
        ``x = C(...).to(d)``, and through the semantic model an alias or a same-file
        helper's result); None when some assigned value is not known (a parameter)."""
        calls = []
        values = self._values(name)
        for value in values:
            for part in _alternatives(value):
                if isinstance(part, ast.Constant) and part.value is None:
                    continue  # ``GradScaler() if args.amp else None``: used only when set
                if isinstance(part, ast.Call) and not self._is_helper(part):
                    calls.append(part)
                    continue
                made = self._made_at(part)
                if made is None:
                    return None
                calls += made
        return None if values and not calls else calls

    def _is_helper(self, call: ast.Call) -> bool:
        func = call.func
        return isinstance(func, ast.Name) and func.id in self.facts.functions

    def _made_at(self, expr: ast.expr) -> list[ast.Call] | None:
        """The calls that made every object ``expr`` holds, when the model knows them."""
        value = SemanticModel.of(self.facts).value_of(expr) - NONE_VALUE
        sites = [obj.site for obj in value]
        if not value or UNKNOWN in value or not all(isinstance(s, ast.Call) for s in sites):
            return None
        return sites  # type: ignore[return-value]

    # -- optimizers ----------------------------------------------------------------

    def is_optimizer(self, name: str) -> bool:
        if name not in self._optimizer:
            self._optimizer[name] = self._decide_optimizer(name)
        return self._optimizer[name]

    def _decide_optimizer(self, name: str) -> bool:
        if self.optimizers.bound_to(name):
            return True
        for value in self._values(name):
            if isinstance(value, ast.Call) and self._is_known_non_optimizer(value):
                return False
        return spelled_like_optimizer(name)

    def _is_known_non_optimizer(self, call: ast.Call) -> bool:
        """A call the file knows returns something else (a scheduler, a scaler, a model)."""
        kind = self.facts.callee_kind(call.func)
        if kind is not None:
            return kind is not SymbolKind.OPTIMIZER_CLASS
        qualified = self.facts.qualify(call.func) or ""
        return qualified.startswith("torch.")

    # -- gradient scalers ------------------------------------------------------------

    def scaler(self, name: str) -> Scaler | None:
        """The GradScaler ``name`` holds, or None when it is not known to hold one."""
        if name not in self._scaler:
            self._scaler[name] = self._decide_scaler(name)
        return self._scaler[name]

    def _decide_scaler(self, name: str) -> Scaler | None:
        calls = self._calls(name)
        if calls:
            found = [self._scaler_call(c) for c in calls]
            if all(s is not None for s in found):
                states = {s.enabled for s in found if s is not None}
                return Scaler(states.pop() if len(states) == 1 else None)
            return None
        if calls is None:  # assigned something that is not a call: an alias, None...
            return None
        last = name.rsplit(".", 1)[-1]
        return Scaler(None) if _SCALER_SPELLING.match(last) else None

    def _scaler_call(self, call: ast.Call) -> Scaler | None:
        if self.facts.qualify(call.func) not in training.GRAD_SCALER_CLASSES:
            return None
        return Scaler(training_objects.scaler_made_by(call).enabled)

    # -- schedulers ------------------------------------------------------------------

    def scheduler(self, name: str) -> Scheduler | None:
        if name not in self._scheduler:
            self._scheduler[name] = self._decide_scheduler(name)
        return self._scheduler[name]

    def _decide_scheduler(self, name: str) -> Scheduler | None:
        calls = self._calls(name)
        if calls:
            found = [self._scheduler_call(c) for c in calls]
            if any(s is None for s in found):
                return None
            classes = {s.class_name for s in found if s is not None}
            first = found[0]
            assert first is not None
            if len(classes) > 1:
                plateau = any(training.is_plateau(c) for c in classes)
                return Scheduler("ReduceLROnPlateau" if plateau else None, first.optimizer)
            return first
        if calls is None:
            return None
        last = name.rsplit(".", 1)[-1]
        return Scheduler(None, None) if _SCHEDULER_SPELLING.match(last) else None

    def _scheduler_call(self, call: ast.Call) -> Scheduler | None:
        qualified = self.facts.qualify(call.func) or ""
        made = training_objects.scheduler_made_by(self.facts, call, qualified)
        if made is None:
            return None
        return Scheduler(made.class_name, made.optimizer, made.torch_semantics)

    # -- accelerate ----------------------------------------------------------------

    def is_accelerator(self, name: str) -> bool:
        calls = self._calls(name)
        if calls:
            return all((self.facts.qualify(c.func) or "").startswith("accelerate.") for c in calls)
        return calls is not None and bool(_ACCELERATOR_SPELLING.match(name.rsplit(".", 1)[-1]))
