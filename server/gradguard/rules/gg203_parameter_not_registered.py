"""## What it does
Checks for parameters and layers that a module will not register, so that
`model.parameters()` and the optimizer never see them:

- `self.w = nn.Parameter(t).double()` (or `.to(device)`, `.cuda()`, `.float()`...);
- a plain `list`, `tuple` or `dict` of layers or parameters stored on the module in
  `__init__` (`self.layers = [nn.Linear(4, 4), nn.Linear(4, 4)]`), also when it starts
  empty and layers are appended or assigned into it later (reported at the attribute's
  assignment);
- `self.scale = nn.Parameter(...)` inside `forward`.

## Why is this bad?
`nn.Module` registers an attribute only when it is an `nn.Parameter` or an `nn.Module`.
A conversion of a new Parameter returns a plain tensor, and Python lists and dicts are
neither, so what they hold is invisible to `parameters()`, `state_dict()`, `.to()` and the
optimizer: it is never trained, and nothing reports it. A Parameter created in `forward`
is a new, untrained tensor on every call.

## What PyTorch does
`nn.Parameter(t).double()` returns a plain non-leaf tensor (`grad_fn=ToCopyBackward0`),
and `named_parameters()` does not list it. `nn.Parameter(t).to("cpu")` returns the
Parameter itself when nothing changes, so on CPU the bug stays hidden until the device
or dtype differs. A plain list of layers registers 0 parameters: those layers are never
updated by the optimizer. `self.scale = nn.Parameter(...)` in `forward` makes a new
Parameter every call, which no optimizer built before holds.

## Example
```python
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = [nn.Linear(4, 4), nn.Linear(4, 4)]
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        for block in self.blocks:
            x = torch.relu(block(x))
        return self.head(x)


model = Net()
before = model.blocks[0].weight.clone()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    optimizer.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
```

## Use instead
```python
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        for block in self.blocks:
            x = torch.relu(block(x))
        return self.head(x)


model = Net()
before = model.blocks[0].weight.clone()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(2):
    optimizer.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
```

## Fix safety
Moving the conversion inside, `nn.Parameter(t.double())`, is safe: the attribute gets the
intended dtype or device and is registered. Wrapping a list or dict in `nn.ModuleList`,
`nn.ModuleDict`, `nn.ParameterList` or `nn.ParameterDict` is safe; it is offered only
when every use of the attribute in the class is supported by the wrapper (and dict keys
are strings). Moving a Parameter's creation from `forward` to the end of `__init__` is
unsafe (the value is then created once, and trained); it is offered only when the
creation reads nothing that `__init__` does not have. The wrapper fix writes the name
the file already uses for `torch.nn` (`nn`, an alias, `torch.nn`, or a directly imported
`ModuleList`); when the file has none, no wrapper fix is offered.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import partial

from gradguard.analysis import flow, torchnames
from gradguard.analysis.demand import reported_if
from gradguard.analysis.edits import containing_block, removal_edit
from gradguard.analysis.facts import ClassInfo, ModuleFacts, self_attribute
from gradguard.analysis.parameters import local_name_for
from gradguard.findings import Finding, Fix, FixSafety, Position, Severity, Span, TextEdit
from gradguard.rules.base import FixAvailability, Rule, RuleContext, Silent

# Calls that may receive a plain list of layers without registering or hiding them.
_HARMLESS_CALLS = frozenset(
    {
        "len",
        "enumerate",
        "zip",
        "reversed",
        "iter",
        "list",
        "tuple",
        "sorted",
        "print",
        "isinstance",
        "range",
        "repr",
        "str",
    }
)
_FILL_METHODS = frozenset({"append", "extend", "insert"})
# Methods each wrapper offers besides indexing, iteration, len and ``in``.
_WRAPPER_METHODS = {
    "ModuleList": frozenset({"append", "extend", "insert", "pop"}),
    "ParameterList": frozenset({"append", "extend"}),
    "ModuleDict": frozenset({"clear", "items", "keys", "pop", "update", "values"}),
    "ParameterDict": frozenset(
        {
            "clear",
            "copy",
            "get",
            "items",
            "keys",
            "pop",
            "popitem",
            "setdefault",
            "update",
            "values",
        }
    ),
}


def check(rule: Rule, context: RuleContext) -> Iterator[Finding]:
    for info in context.facts.classes.values():
        # Whether the class is a module may ask jedi (an imported base): asked only of a
        # class with something to report.
        yield from reported_if(info, partial(_check_class, rule, context), _is_module)


def _is_module(info: ClassInfo) -> bool:
    return info.is_module


def _check_class(rule: Rule, context: RuleContext, info: ClassInfo) -> Iterator[Finding]:
    for node in context.facts.class_statements(info.node):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            yield from _check_assignment(rule, context, info, node)


def _check_assignment(
    rule: Rule, context: RuleContext, info: ClassInfo, stmt: ast.Assign
) -> Iterator[Finding]:
    attr = self_attribute(stmt.targets[0])
    function = context.facts.enclosing_function(stmt)
    if attr is None or function is None or context.facts.class_info_of(function) is not info:
        return
    if function.name == "forward" and _parameter_creation(context, stmt.value) is not None:
        if not _lazy_guard(context, stmt, function, attr):
            yield _forward_finding(rule, context, info, stmt, attr, function)
        return
    moved = _converted_parameter(context, stmt.value)
    if moved is not None:
        reassigned = _assigned_elsewhere(context.facts, info, stmt, attr)
        yield _conversion_finding(rule, context, stmt, attr, moved, offer_fix=not reassigned)
        return
    if function.name == "__init__":
        container = _container_finding(rule, context, info, stmt, attr, function)
        if container is not None:
            yield container


# -- nn.Parameter(t).double() ----------------------------------------------------------


def _parameter_creation(context: RuleContext, value: ast.expr) -> ast.Call | None:
    """The ``nn.Parameter(...)`` call at the root of ``value`` (through move methods)."""
    while isinstance(value, ast.Call) and flow.method_name(value) in torchnames.MOVE_METHODS:
        value = value.func.value  # type: ignore[attr-defined]
    if isinstance(value, ast.Call) and context.facts.is_parameter_call(value):
        return value
    return None


def _converted_parameter(context: RuleContext, value: ast.expr) -> ast.Call | None:
    """``nn.Parameter(t)`` when ``value`` is ``nn.Parameter(t).double()`` and the like."""
    if not (isinstance(value, ast.Call) and flow.method_name(value) in torchnames.MOVE_METHODS):
        return None
    return _parameter_creation(context, value)


def _assigned_elsewhere(facts: ModuleFacts, info: ClassInfo, stmt: ast.Assign, attr: str) -> bool:
    """Another ``self.<attr> = ...`` in the class: once the fix registers the Parameter,
    that assignment would start raising (a plain tensor over a parameter), so the fix
    would not be behaviour-preserving there."""
    return any(
        isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
        and node is not stmt
        and any(self_attribute(t) == attr for t in flow.assigned_targets(node))
        for node in facts.class_statements(info.node)
    )


def _conversion_finding(
    rule: Rule,
    context: RuleContext,
    stmt: ast.Assign,
    attr: str,
    creation: ast.Call,
    *,
    offer_fix: bool = True,
) -> Finding:
    method = flow.method_name(stmt.value)  # type: ignore[arg-type]
    return rule.finding(
        context,
        stmt,
        f"`.{method}()` on a new Parameter returns a plain non-leaf tensor whenever it "
        f"converts, so `self.{attr}` is not registered: `parameters()` and the optimizer "
        f"never see it",
        fixes=_conversion_fix(context, stmt.value, creation) if offer_fix else (),
    )


def _conversion_fix(context: RuleContext, value: ast.expr, creation: ast.Call) -> tuple[Fix, ...]:
    """``nn.Parameter(t).double()`` -> ``nn.Parameter(t.double())``."""
    data = creation.args[0] if creation.args else None
    if data is None or isinstance(data, ast.Starred):
        return ()
    source = context.source
    tail = Span(source.span_of(creation).end, source.span_of(value).end)
    chain = source.segment(tail)
    data_text = source.node_text(data)
    if not isinstance(data, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
        data_text = f"({data_text})"
    edits = (TextEdit(source.span_of(data), f"{data_text}{chain}"), TextEdit(tail, ""))
    title = f"Move `{' '.join(chain.split())}` inside the Parameter"
    return (Fix(title, FixSafety.SAFE, edits),)


# -- self.scale = nn.Parameter(...) in forward -----------------------------------------


def _lazy_guard(context: RuleContext, stmt: ast.stmt, function: ast.AST, attr: str) -> bool:
    """``if not hasattr(self, "scale"):`` / ``if self.scale is None:`` creates it once."""
    for parent in context.facts.ancestors(stmt):
        if parent is function:
            return False
        if isinstance(parent, (ast.If, ast.While)):
            for node in ast.walk(parent.test):
                if isinstance(node, ast.Name) and node.id in ("hasattr", "getattr"):
                    return True
                if isinstance(node, ast.Attribute) and self_attribute(node) == attr:
                    return True
    return False


def _forward_finding(
    rule: Rule,
    context: RuleContext,
    info: ClassInfo,
    stmt: ast.Assign,
    attr: str,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
) -> Finding:
    return rule.finding(
        context,
        stmt,
        f"`self.{attr}` gets a new Parameter every time `forward` runs this line: the "
        f"optimizer never holds it, so it is never trained",
        fixes=_move_to_init_fix(context, info, stmt, attr, function),
    )


def _move_to_init_fix(
    context: RuleContext,
    info: ClassInfo,
    stmt: ast.Assign,
    attr: str,
    forward: ast.FunctionDef | ast.AsyncFunctionDef,
) -> tuple[Fix, ...]:
    init = info.methods.get("__init__")
    if init is None or _converted_parameter(context, stmt.value) is not None:
        return ()
    if not _computable_in_init(stmt.value, init, forward) or _assigns_self(init, attr):
        return ()
    last = init.body[-1]
    if init.body[0].lineno == init.lineno or isinstance(last, ast.Return):
        return ()
    block = containing_block(context.facts.parents, stmt)
    removal = removal_edit(context.source, stmt, block) if block is not None else None
    if removal is None:
        return ()
    source = context.source
    indent = source.indentation_of(init.body[0].lineno - 1)
    text = source.node_text(stmt)
    end_line = last.end_lineno or last.lineno  # 1-based: the 0-based index of the next line
    if end_line < len(source.line_starts):
        insertion = source.insert_at(Position(end_line, 0), f"{indent}{text}{source.newline}")
    else:
        insertion = source.insert_at(
            source.line_end(end_line - 1), f"{source.newline}{indent}{text}"
        )
    return (
        Fix("Move the Parameter creation to `__init__`", FixSafety.UNSAFE, (insertion, removal)),
    )


def _computable_in_init(
    value: ast.expr,
    init: ast.FunctionDef | ast.AsyncFunctionDef,
    forward: ast.FunctionDef | ast.AsyncFunctionDef,
) -> bool:
    """Every name the value reads means the same in ``__init__``: globals and builtins
    not shadowed there, and ``self.<attr>`` that ``__init__`` assigns."""
    forward_locals = _local_names(forward)
    init_locals = _local_names(init)
    inner = {
        node.id
        for node in ast.walk(value)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    } | {arg.arg for arg in ast.walk(value) if isinstance(arg, ast.arg)}
    init_attrs = {
        attr
        for node in ast.walk(init)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and (attr := self_attribute(node))
    }
    for node in ast.walk(value):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and node.attr not in init_attrs
        ):
            return False
        if not isinstance(node, ast.Name) or node.id in inner:
            continue
        if node.id == "self":
            parent_ok = any(
                isinstance(p, ast.Attribute) and p.value is node for p in ast.walk(value)
            )
            if not parent_ok:
                return False
            continue
        if node.id in forward_locals or node.id in init_locals:
            return False
    return True


def _local_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = {arg.arg for arg in ast.walk(function.args) if isinstance(arg, ast.arg)}
    for node in flow.walk_local(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names - {"self"}


def _assigns_self(function: ast.AST, attr: str) -> bool:
    return any(
        isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and self_attribute(node) == attr
        for node in ast.walk(function)
    )


# -- plain lists and dicts of layers -------------------------------------------------------


def _container_finding(
    rule: Rule,
    context: RuleContext,
    info: ClassInfo,
    stmt: ast.Assign,
    attr: str,
    init: ast.FunctionDef | ast.AsyncFunctionDef,
) -> Finding | None:
    value = stmt.value
    shape = _container_shape(value)
    local: str | None = None
    if shape is None and isinstance(value, ast.Name):
        local = value.id
        shape = _local_container_shape(context.facts, init, local)
    if shape is None:
        return None
    elements = list(_direct_elements(value)) if local is None else []
    fills = (
        list(_fills(context.facts, init, local))
        if local
        else list(_fills(context.facts, info.node, f"self.{attr}"))
    )
    elements += [e for fill in fills for e in _fill_elements(fill)]
    kinds = {_element_kind(context, init, e) for e in elements}
    if not kinds & {"module", "parameter"}:
        return None
    if (
        _escapes(context, info.node, f"self.{attr}")
        or (local and _escapes(context, init, local))
        or _registers_dynamically(info.node)
        or any(_registered_elsewhere(context, init, e) for e in elements)
    ):
        return None
    holds = "layers" if kinds == {"module"} else "parameters"
    if kinds == {"module", "parameter"} or None in kinds:
        holds = "layers or parameters"
    container = "dict" if shape == "dict" else ("tuple" if shape == "tuple" else "list")
    return rule.finding(
        context,
        stmt,
        f"`self.{attr}` is a plain {container}, so the {holds} it holds are not registered: "
        f"`parameters()` and the optimizer never see them, and they are never trained",
        fixes=_wrap_fix(context, info, stmt, attr, shape, kinds, fills),
    )


def _container_shape(value: ast.expr) -> str | None:
    if isinstance(value, (ast.List, ast.ListComp)):
        return "list"
    if isinstance(value, ast.Tuple):
        return "tuple"
    if isinstance(value, (ast.Dict, ast.DictComp)):
        return "dict"
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        if not (value.args or value.keywords):
            return {"list": "list", "dict": "dict"}.get(value.func.id)
        if _keyword_dict(value):
            return "dict"
        if _sequence_of_generator(value) is not None:
            return "tuple" if value.func.id == "tuple" else "list"
    return None


def _keyword_dict(call: ast.Call) -> bool:
    """``dict(a=nn.Linear(...), b=...)``."""
    return (
        isinstance(call.func, ast.Name)
        and call.func.id == "dict"
        and not call.args
        and all(k.arg is not None for k in call.keywords)
    )


def _sequence_of_generator(call: ast.Call) -> ast.GeneratorExp | None:
    """``tuple(Block() for _ in range(n))`` / ``list(...)``: the generator."""
    if (
        isinstance(call.func, ast.Name)
        and call.func.id in ("list", "tuple")
        and len(call.args) == 1
        and not call.keywords
        and isinstance(call.args[0], ast.GeneratorExp)
    ):
        return call.args[0]
    return None


def _local_container_shape(facts: ModuleFacts, function: ast.AST, name: str) -> str | None:
    """The shape of a local ``name = [...]`` when it is bound exactly once."""
    values = [node.value for node in facts.assignments_by_name(function).get(name, ())]
    if len(values) != 1:
        return None
    return _container_shape(values[0])


def _direct_elements(value: ast.expr) -> Iterator[ast.expr]:
    if isinstance(value, (ast.List, ast.Tuple)):
        yield from value.elts
    elif isinstance(value, ast.ListComp):
        yield value.elt
    elif isinstance(value, ast.Dict):
        yield from value.values
    elif isinstance(value, ast.DictComp):
        yield value.value
    elif isinstance(value, ast.Call) and _keyword_dict(value):
        yield from (k.value for k in value.keywords)
    elif isinstance(value, ast.Call) and (generator := _sequence_of_generator(value)):
        yield generator.elt


def _fills(facts: ModuleFacts, scope: ast.AST, dotted: str) -> list[ast.AST]:
    """``x.append(e)``, ``x.extend([...])``, ``x.insert(i, e)``, ``x[k] = e``, ``x += [...]``
    under ``scope``, in ``ast.walk(scope)`` order (the file's walk order restricted to the
    subtree)."""
    index = facts.shared("gg203 fills", lambda: _index_fills(facts))
    return [n for n in index.get(dotted, []) if any(a is scope for a in facts.ancestors(n))]


def _index_fills(facts: ModuleFacts) -> dict[str, list[ast.AST]]:
    """Every fill of the file by the dotted name it fills, in ``ast.walk`` order: built
    once, where a walk per class made files of many modules quadratic."""
    index: dict[str, list[ast.AST]] = {}
    for node in facts.nodes_of_types(ast.Call, ast.Assign, ast.AugAssign):
        if isinstance(node, ast.Call) and flow.method_name(node) in _FILL_METHODS:
            dotted = flow.dotted_name(node.func.value)  # type: ignore[attr-defined]
            if dotted is not None:
                index.setdefault(dotted, []).append(node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Subscript):
                    dotted = flow.dotted_name(target.value)
                    if dotted is not None:
                        index.setdefault(dotted, []).append(node)
        elif isinstance(node, ast.AugAssign):
            dotted = flow.dotted_name(node.target)
            if dotted is not None:
                index.setdefault(dotted, []).append(node)
    return index


def _fill_elements(fill: ast.AST) -> Iterator[ast.expr]:
    if isinstance(fill, ast.Call):
        method = flow.method_name(fill)
        args = [a for a in fill.args if not isinstance(a, ast.Starred)]
        if method == "append" and args:
            yield args[0]
        elif method == "insert" and len(args) == 2:
            yield args[1]
        elif method == "extend" and args:
            yield from _direct_elements(args[0]) if _container_shape(args[0]) else ()
    elif isinstance(fill, ast.Assign):
        yield fill.value
    elif isinstance(fill, ast.AugAssign):
        yield from _direct_elements(fill.value)


def _element_kind(context: RuleContext, function: ast.AST, element: ast.expr) -> str | None:
    if isinstance(element, ast.Name):
        assignments = context.facts.assignments_by_name(function).get(element.id, ())
        values = [node.value for node in assignments]
        kinds = {_element_kind(context, function, v) for v in values if not isinstance(v, ast.Name)}
        return kinds.pop() if len(kinds) == 1 else None
    while isinstance(element, ast.Call) and flow.method_name(element) in torchnames.MOVE_METHODS:
        element = element.func.value  # type: ignore[attr-defined]
    if isinstance(element, ast.Call):
        if context.facts.is_parameter_call(element):
            return "parameter"
        if context.facts.is_module_call(element):
            return "module"
    return None


def _registered_elsewhere(context: RuleContext, function: ast.AST, element: ast.expr) -> bool:
    """``wrapper = Wrapper(mod); set_module_by_path(net, path, wrapper);
    self.wrappers[path] = wrapper``: the item itself is handed to other code or stored
    on another attribute, which may register it; the container is then only an index."""
    if not isinstance(element, ast.Name):
        return False
    for node in flow.walk_local(function):
        if not isinstance(node, ast.Call) or flow.method_name(node) in _FILL_METHODS:
            continue
        if isinstance(node.func, ast.Name) and node.func.id in _HARMLESS_CALLS:
            continue
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            inner = argument.value if isinstance(argument, ast.Starred) else argument
            if isinstance(inner, ast.Name) and inner.id == element.id:
                return True
    return any(
        isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Name)
        and node.value.id == element.id
        and any(isinstance(t, ast.Attribute) for t in node.targets)
        for node in flow.walk_local(function)
    )


def _escapes(context: RuleContext, scope: ast.AST, dotted: str) -> bool:
    """The container is handed to code that may register its items (``nn.Sequential(
    *self.layers)``, a helper of the project): then it may well be fine."""
    for node in ast.walk(scope):
        if not isinstance(node, ast.Call):
            continue
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            inner = argument.value if isinstance(argument, ast.Starred) else argument
            if flow.dotted_name(inner) != dotted:
                continue
            if not (isinstance(node.func, ast.Name) and node.func.id in _HARMLESS_CALLS):
                return True
    return False


def _registers_dynamically(class_node: ast.ClassDef) -> bool:
    """``add_module``/``register_module``/``setattr(self, name, ...)`` register items by
    name: the class may register the container's items itself. A call with a literal
    name (``self.register_parameter("offset", None)``) registers one fixed attribute,
    not the items of a container."""
    for node in ast.walk(class_node):
        if isinstance(node, ast.Call):
            method = flow.method_name(node)
            if method in ("add_module", "register_module", "register_parameter"):
                name = node.args[0] if node.args else None
            elif isinstance(node.func, ast.Name) and node.func.id == "setattr":
                name = node.args[1] if len(node.args) > 1 else None
            else:
                continue
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                return True
    return False


# -- the wrapper fix ---------------------------------------------------------------------


def _wrap_fix(
    context: RuleContext,
    info: ClassInfo,
    stmt: ast.Assign,
    attr: str,
    shape: str,
    kinds: set[str | None],
    fills: list[ast.AST],
) -> tuple[Fix, ...]:
    if kinds not in ({"module"}, {"parameter"}):
        return ()
    prefix = "Module" if kinds == {"module"} else "Parameter"
    wrapper = f"{prefix}{'Dict' if shape == 'dict' else 'List'}"
    if shape == "dict" and not _string_keys(stmt.value, fills):
        return ()
    if not _uses_supported(info.node, f"self.{attr}", wrapper, stmt):
        return ()
    name = local_name_for(context.facts, f"torch.nn.{wrapper}")
    if name is None:
        return ()
    value = stmt.value
    source = context.source
    text = source.node_text(value)
    empty = (isinstance(value, ast.Call) and not (value.args or value.keywords)) or (
        isinstance(value, (ast.List, ast.Dict)) and not list(_direct_elements(value))
    )
    if empty:
        new = f"{name}()"
    elif isinstance(value, ast.Tuple) and not text.startswith("("):
        new = f"{name}(({text}))"
    else:
        new = f"{name}({text})"
    return (Fix(f"Wrap in `{name}`", FixSafety.SAFE, (source.replace(value, new),)),)


def _string_keys(value: ast.expr, fills: list[ast.AST]) -> bool:
    keys: list[ast.expr | None] = []
    if isinstance(value, ast.Dict):
        keys += value.keys
    elif isinstance(value, ast.DictComp):
        keys.append(value.key)
    elif isinstance(value, ast.Call) and not _keyword_dict(value):
        return False
    for fill in fills:
        if not isinstance(fill, ast.Assign):
            return False
        for target in fill.targets:
            if isinstance(target, ast.Subscript):
                keys.append(target.slice)
    return all(_is_string_key(k) for k in keys)


def _is_string_key(key: ast.expr | None) -> bool:
    if isinstance(key, ast.JoinedStr):
        return True
    if isinstance(key, ast.Call) and isinstance(key.func, ast.Name) and key.func.id == "str":
        return True
    return isinstance(key, ast.Constant) and isinstance(key.value, str)


def _uses_supported(class_node: ast.ClassDef, dotted: str, wrapper: str, stmt: ast.stmt) -> bool:
    """Every read of the attribute in the class works the same on the wrapper."""
    parents = {
        child: parent for parent in ast.walk(class_node) for child in ast.iter_child_nodes(parent)
    }
    for node in ast.walk(class_node):
        if not (isinstance(node, ast.Attribute) and flow.dotted_name(node) == dotted):
            continue
        if not isinstance(node.ctx, ast.Load):
            if any(t is node for t in getattr(stmt, "targets", [])):
                continue
            return False
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute):
            if parent.attr not in _WRAPPER_METHODS[wrapper]:
                return False
        elif isinstance(parent, ast.Subscript):
            if isinstance(parent.slice, ast.Slice) and not isinstance(parent.ctx, ast.Load):
                return False
        elif isinstance(parent, ast.Call):
            if not (isinstance(parent.func, ast.Name) and parent.func.id in _HARMLESS_CALLS):
                return False
            if wrapper.endswith("Dict") and parent.func.id == "reversed":
                return False
        elif isinstance(parent, (ast.For, ast.comprehension, ast.Starred)):
            continue
        elif isinstance(parent, ast.Compare):
            if not all(isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops):
                return False
        elif isinstance(parent, ast.AugAssign):
            if not wrapper.endswith("List"):
                return False
        else:
            return False
    return True


RULE = Rule(
    code="GG203",
    name="parameter-not-registered",
    summary="Parameters or layers the module does not register",
    severity=Severity.WARNING,
    fix_availability=FixAvailability.SOMETIMES,
    doc=__doc__ or "",
    check_function=check,
    example_outcome=Silent(
        check=(
            "assert torch.equal(model.blocks[0].weight, before)\n"
            "assert len(list(model.parameters())) == 2"
        )
    ),
    use_instead_check="assert not torch.equal(model.blocks[0].weight, before)",
)
