"""What statements read and bind, and where they run: the questions a fix must ask
before it moves code across other statements ("does anything between use the optimizer?",
"does anything between rebind a name the statement reads?").

Two families, different on purpose:

* Plain names over a whole subtree, for moving a statement together with its body:
  :func:`names_read` (nested functions included: calling them reads those names too),
  :func:`names_bound` (not what nested functions bind inside themselves) and
  :func:`reads_dotted`.
* Dotted chains, for scanning a scope statement by statement, where ``model.fc`` and
  ``model.opt`` must stay apart: :func:`loaded_chains` (a node's subtree, without
  nested functions, lambdas or classes), :func:`bound_chains` (what one statement binds
  itself: headers only for compound statements, whose bodies are scanned as their own
  statements), :func:`chains_overlap`, :func:`any_overlap`.

And where two nodes run relative to each other: :func:`mutually_exclusive`,
:func:`repeats_in`.
"""

from __future__ import annotations

import ast

from gradguard.analysis import flow

# -- plain names over a subtree ------------------------------------------------------


def names_read(node: ast.AST) -> set[str]:
    """Every plain name loaded anywhere inside ``node`` (nested functions included:
    calling them reads those names too)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def names_bound(node: ast.AST) -> set[str]:
    """Every plain name that ``node`` (re)binds or deletes in its own scope: assignment
    and loop targets, ``with ... as``, walrus, imports, ``except ... as``,
    ``def``/``class`` names (not what nested functions bind inside themselves)."""
    bound: set[str] = set()
    stack: list[ast.AST] = [node]
    while stack:
        child = stack.pop()
        if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            bound.add(child.id)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in child.names)
        elif isinstance(child, ast.ExceptHandler) and child.name:
            bound.add(child.name)
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(child.name)
            if child is not node:
                continue
        if isinstance(child, ast.Lambda) and child is not node:
            continue
        stack.extend(ast.iter_child_nodes(child))
    return bound


def reads_dotted(node: ast.AST, dotted: str) -> bool:
    """``node`` loads ``dotted`` (``optimizer``, ``self.opt``) or something under it
    (``optimizer.step``). For a dotted name, a bare use of its root (``self`` passed
    along, ``self.train_step()``) also counts: it may reach the attribute."""
    root, _, rest = dotted.partition(".")
    parents: dict[ast.AST, ast.AST] | None = None
    for child in ast.walk(node):
        if not isinstance(child, ast.Name) or child.id != root:
            continue
        if not isinstance(child.ctx, ast.Load):
            continue
        if not rest:
            return True
        if parents is None:
            parents = {c: p for p in ast.walk(node) for c in ast.iter_child_nodes(p)}
        if _reaches(child, dotted, parents):
            return True
    return False


def _reaches(name: ast.Name, dotted: str, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether this load of the root of ``dotted`` may read ``dotted``."""
    chain: ast.AST = name
    while isinstance(parents.get(chain), ast.Attribute):
        chain = parents[chain]
        full = flow.dotted_name(chain) or ""
        if full == dotted or full.startswith(dotted + "."):
            return True
        if not dotted.startswith(full + "."):
            # Diverged (``self.model`` for ``self.opt``): harmless, unless it is a
            # method of the root object itself (``self.train_step()``), which may
            # read the attribute.
            parent = parents.get(chain)
            called = isinstance(parent, ast.Call) and parent.func is chain
            return called and full.count(".") == 1
    # The root itself (or a prefix of ``dotted``) is used whole: assume it reaches.
    return True


# -- dotted chains of one statement --------------------------------------------------


def loaded_chains(node: ast.AST) -> set[str]:
    """Dotted names read by ``node`` (``model.fc.parameters``, ``lr``), maximal chains."""
    chains: set[str] = set()
    inner: set[int] = set()
    for child in flow.walk_local(node):
        if isinstance(child, ast.Attribute) and id(child) not in inner:
            name = flow.dotted_name(child)
            if name:
                chains.add(name)
                value: ast.AST = child.value
                while isinstance(value, ast.Attribute):
                    inner.add(id(value))
                    value = value.value
                inner.add(id(value))
        elif (
            isinstance(child, ast.Name)
            and id(child) not in inner
            and isinstance(child.ctx, ast.Load)
        ):
            chains.add(child.id)
    return chains


def bound_chains(stmt: ast.stmt) -> set[str]:
    """Dotted names a statement (headers only for compound ones) binds or rebinds,
    including walrus targets and imports."""
    bound = {name for t in flow.assigned_targets(stmt) if (name := flow.dotted_name(t))}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        bound |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        bound.add(stmt.name)
    if isinstance(stmt, ast.Delete):
        bound |= {name for t in stmt.targets if (name := flow.dotted_name(t))}
    for node in flow.own_nodes(stmt):
        if isinstance(node, ast.NamedExpr):
            bound.add(node.target.id)
    return bound


def chains_overlap(first: str, second: str) -> bool:
    """``model`` and ``model.fc.weight`` overlap (one is a prefix of the other)."""
    a, b = first.split("."), second.split(".")
    shortest = min(len(a), len(b))
    return a[:shortest] == b[:shortest]


def any_overlap(reads: set[str], writes: set[str]) -> bool:
    return any(chains_overlap(r, w) for r in reads for w in writes)


# -- where nodes run -----------------------------------------------------------------


def _branch_key(parent: ast.AST, child: ast.AST) -> tuple[str, int] | None:
    """Which branch of a conditional ``child`` sits in (None: not a branch)."""
    for field in ("body", "orelse", "finalbody"):
        block = getattr(parent, field, None)
        if isinstance(block, list) and any(item is child for item in block):
            return (field, 0)
    for number, handler in enumerate(getattr(parent, "handlers", ()) or ()):
        if handler is child:
            return ("handler", number)
    for number, case in enumerate(getattr(parent, "cases", ()) or ()):
        if case is child:
            return ("case", number)
    return None


def _branches(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> dict[int, tuple[str, str, int]]:
    """For every conditional around ``node``: its kind and the branch taken."""
    branches: dict[int, tuple[str, str, int]] = {}
    child = node
    parent = parents.get(child)
    while parent is not None:
        kind = type(parent).__name__
        if kind in ("If", "Try", "TryStar", "Match"):
            key = _branch_key(parent, child)
            if key is not None:
                branches[id(parent)] = (kind, *key)
        child, parent = parent, parents.get(parent)
    return branches


def mutually_exclusive(first: ast.AST, second: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """The two nodes sit in different branches of one ``if``/``match`` (or the ``else``
    and a handler, or two handlers, of one ``try``), so one run never executes both."""
    one, other = _branches(first, parents), _branches(second, parents)
    for key in one.keys() & other.keys():
        kind, a_field, a_number = one[key]
        _, b_field, b_number = other[key]
        if (a_field, a_number) == (b_field, b_number):
            continue
        if kind == "If" or kind == "Match":
            return True
        fields = {a_field, b_field}
        if fields == {"handler"} or fields == {"handler", "orelse"}:
            return True
    return False


def repeats_in(node: ast.AST, loop: ast.stmt, parents: dict[ast.AST, ast.AST]) -> bool:
    """``node`` is in the loop's body (run on every iteration), not in its ``else``."""
    child: ast.AST = node
    parent = parents.get(child)
    while parent is not None and parent is not loop:
        child, parent = parent, parents.get(parent)
    if parent is None:
        return False
    return any(item is child for item in getattr(loop, "body", []))
