"""What happens to an optimizer after its creation, inside the creation's scope.

:class:`OptimizerTimeline` lists, for one :class:`OptimizerCreation` bound to a name,
the statements that use the optimizer, rebind its name (a new optimizer) or call its
``add_param_group``; :meth:`OptimizerTimeline.used_after` says whether the optimizer
created there is still used after a given statement (following loop back edges and
skipping branches that exclude each other). Statement order is source order within
one scope: code in other functions is not followed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property

from gradguard.analysis import flow
from gradguard.analysis.facts import ModuleFacts
from gradguard.analysis.names import reads_dotted
from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.semantic import control
from gradguard.semantic.held_optimizers import object_rebuilds, object_uses
from gradguard.semantic.workspace import argument_names, foreign_call


def related_names(a: str, b: str) -> bool:
    """One dotted name is the other or lies under it (``model`` / ``model.fc``,
    ``model.layers`` / ``model.layers[0]``)."""
    return a == b or a.startswith((b + ".", b + "[")) or b.startswith((a + ".", a + "["))


def dotted_names_in(node: ast.AST) -> set[str]:
    """Every dotted name (``model.fc.weight``) spelled anywhere in ``node``."""
    names = set()
    for child in ast.walk(node):
        if isinstance(child, (ast.Name, ast.Attribute)):
            dotted = flow.dotted_name(child)
            if dotted:
                names.add(dotted)
    return names


@dataclass
class OptimizerTimeline:
    facts: ModuleFacts
    creation: OptimizerCreation
    name: str
    statements: list[flow.StatementInfo] = field(repr=False)

    @classmethod
    def of(cls, facts: ModuleFacts, creation: OptimizerCreation) -> OptimizerTimeline | None:
        """``None`` when the optimizer is not bound to a name we can follow."""
        if creation.target is None:
            return None
        return cls(facts, creation, creation.target, facts.statements_of(creation.scope))

    @cached_property
    def uses(self) -> list[flow.StatementInfo]:
        """Statements whose own code reads the optimizer's name."""
        direct = [
            info
            for info in self.statements
            if any(reads_dotted(part, self.name) for part in self._read_parts(info.node))
        ]
        # ``trainer = Trainer(model, optimizer)`` then ``trainer.fit()``: used through the
        # object it was handed to.
        through = object_uses(self.facts, self.creation, self.statements)
        rebuilt = {id(info.node) for info in self.rebinds}
        return sorted(
            {id(i.node): i for i in direct + through if id(i.node) not in rebuilt}.values(),
            key=lambda i: i.order,
        )

    def _read_parts(self, stmt: ast.stmt) -> list[ast.AST]:
        """The statement's own code, without a target that is the optimizer's name
        itself (``self.opt = SGD(...)`` stores ``self.opt``, it does not read it)."""
        if isinstance(stmt, ast.Assign):
            targets = [t for t in stmt.targets if flow.dotted_name(t) != self.name]
            return [*targets, stmt.value]
        if isinstance(stmt, ast.AnnAssign) and flow.dotted_name(stmt.target) == self.name:
            return [stmt.value] if stmt.value is not None else []
        return list(flow.header_nodes(stmt))

    @cached_property
    def rebinds(self) -> list[flow.StatementInfo]:
        """Statements that bind the optimizer's name (the creation included), also
        through a method of the object (``trainer.reset_optimizer()`` assigning
        ``self.optimizer`` for ``trainer.optimizer``)."""
        rebuilt = {id(i.node) for i in object_rebuilds(self.facts, self.name, self.statements)}
        return [
            info
            for info in self.statements
            if flow.assigns_name(info.node, self.name) or id(info.node) in rebuilt
        ]

    @cached_property
    def param_group_additions(self) -> list[tuple[flow.StatementInfo, set[str]]]:
        """``<optimizer>.add_param_group(...)`` statements with the names they mention."""
        found = []
        for info in self.statements:
            for node in flow.own_nodes(info.node):
                if not isinstance(node, ast.Call):
                    continue
                direct = (
                    flow.method_name(node) == "add_param_group"
                    and isinstance(node.func, ast.Attribute)
                    and flow.dotted_name(node.func.value) == self.name
                )
                if direct or self._adds_groups_through(node):
                    mentioned: set[str] = set()
                    for argument in [*node.args, *(k.value for k in node.keywords)]:
                        mentioned |= dotted_names_in(argument)
                    found.append((info, mentioned))
        return found

    def _adds_groups_through(self, call: ast.Call) -> bool:
        """``add_head(optimizer, model.fc)`` where the same-file ``add_head`` calls
        ``add_param_group`` on the parameter the optimizer is passed as."""
        function = self.facts.functions.get(getattr(call.func, "id", ""))
        if function is None:
            return self._adds_groups_through_module(call)
        positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
        passed = {
            p for p, a in zip(positional, call.args, strict=False) if reads_dotted(a, self.name)
        }
        passed |= {k.arg for k in call.keywords if k.arg and reads_dotted(k.value, self.name)}
        return any(
            isinstance(node, ast.Call)
            and flow.method_name(node) == "add_param_group"
            and isinstance(node.func, ast.Attribute)
            and flow.dotted_name(node.func.value) in passed
            for node in ast.walk(function)
        )

    def _adds_groups_through_module(self, call: ast.Call) -> bool:
        """The same through a function of another workspace module (its summary)."""
        foreign = foreign_call(self.facts, call)
        if foreign is None or not foreign.summary.adds_param_groups:
            return False
        passed = argument_names(call, foreign.summary)
        return any(passed.get(p) == self.name for p in foreign.summary.adds_param_groups)

    def follows_creation(self, info: flow.StatementInfo) -> bool:
        """``info`` runs after the creation (later in source order, or later in a loop
        that holds both), in a branch compatible with it."""
        created = self.creation.statement
        if info.node is created.node or control.mutually_exclusive(
            self.facts, created.node, info.node
        ):
            return False
        return info.order > created.order or bool(set(info.loops) & set(created.loops))

    def used_after(self, info: flow.StatementInfo) -> bool:
        """The optimizer created here is read after ``info`` runs, before its name is
        bound to something else."""
        for use in self.uses:
            if use.node is info.node or control.mutually_exclusive(self.facts, info.node, use.node):
                continue
            if use.order > info.order:
                if not any(info.order < b.order < use.order for b in self.rebinds):
                    return True
            elif self._loop_back_reaches(info, use):
                return True
        return self._kept_for_other_methods(info) or self._kept_for_functions(info)

    def _kept_for_functions(self, info: flow.StatementInfo) -> bool:
        """A module-level optimizer, not rebound after ``info``, that a function of the
        file reads as a global (``def train(): optimizer.step()`` called further down)."""
        if not isinstance(self.creation.scope, ast.Module) or "." in self.name:
            return False
        if any(b.order > info.order for b in self.rebinds):
            return False
        readers = self._global_readers
        for later in self.statements:
            if later.order <= info.order or isinstance(later.node, flow.SCOPE_TYPES):
                continue
            for node in flow.own_nodes(later.node):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in readers
                ):
                    return True
        return False

    @cached_property
    def _global_readers(self) -> set[str]:
        """Module-level functions that read the optimizer's name as a global, directly or
        through the functions they call (``main()`` calling ``train()``)."""
        functions = self.facts.functions
        readers = {name for name, f in functions.items() if self._reads_global(f)}
        for _ in range(3):
            callers = {
                name
                for name, f in functions.items()
                if name not in readers
                and any(
                    isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Name)
                    and n.func.id in readers
                    for n in ast.walk(f)
                )
            }
            if not callers:
                break
            readers |= callers
        return readers

    def _reads_global(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """``function`` (or a function nested in it) loads the name without binding it
        locally."""
        arguments = function.args
        every = [
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            *([arguments.vararg] if arguments.vararg else []),
            *([arguments.kwarg] if arguments.kwarg else []),
        ]
        if any(a.arg == self.name for a in every):
            return False
        loads = False
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and node.id == self.name:
                if not isinstance(node.ctx, ast.Load):
                    return False  # bound locally (unless declared global: not judged)
                loads = True
        return loads

    def _kept_for_other_methods(self, info: flow.StatementInfo) -> bool:
        """``self.optimizer = ...`` in a method, not rebound there after ``info``, and read
        by another method of the class (``__init__`` builds it, ``train_step`` steps it)."""
        scope = self.creation.scope
        owner = self.facts.parents.get(scope)
        if not (self.name.startswith("self.") and isinstance(owner, ast.ClassDef)):
            return False
        if any(b.order > info.order for b in self.rebinds):
            return False
        for method in owner.body:
            if method is scope or not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(method):
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                    dotted = flow.dotted_name(node)
                    if dotted == self.name or (dotted or "").startswith(self.name + "."):
                        return True
        return False

    def _loop_back_reaches(self, info: flow.StatementInfo, use: flow.StatementInfo) -> bool:
        """``use`` comes earlier in a loop that also holds ``info``: the next iteration
        reaches it, unless the name is rebound on the way round."""
        shared = [loop for loop in info.loops if loop in use.loops]
        if not shared:
            return False
        loop = shared[-1]
        for b in self.rebinds:
            if loop in b.loops and (b.order > info.order or b.order < use.order):
                return False
        return True

    def parameters_added_after(self, info: flow.StatementInfo, part: str) -> bool:
        """``add_param_group`` mentions ``part`` (or something related) after ``info``."""
        return any(
            added.order > info.order and any(related_names(part, name) for name in names)
            for added, names in self.param_group_additions
        )
