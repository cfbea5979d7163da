import pytest

from helpers import apply_fix, assert_all_fixes_repair, lines_of, only

LOOP = """
import torch

x = torch.randn(16, 3)
y = torch.randn(16)
w = torch.randn(3, requires_grad=True)
lr = 0.1
for step in range(10):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    {update}
    w.grad.zero_()
"""


@pytest.mark.parametrize(
    "update",
    [
        "w = w - lr * w.grad",
        "w = w + (-lr) * w.grad",
        "w = w * 1.0 - lr * w.grad",
        "w = w.data - lr * w.grad.data",
        "w = w - lr * g",  # a known leaf, in a training loop
    ],
)
def test_flags_rebinding_update_in_script(update):
    code = LOOP.format(update=update)
    (finding,) = only(code, "GG302")
    assert finding.span.start.line == 10
    assert finding.span.start.column == 4
    assert finding.span.end.column == 4 + len(update)
    assert finding.severity.value == "error"


def test_message_for_non_leaf_and_detached_results():
    (plain,) = only(LOOP.format(update="w = w - lr * w.grad"), "GG302")
    assert "non-leaf" in plain.message and "warns and returns None" in plain.message
    (data,) = only(LOOP.format(update="w = w.data - lr * w.grad.data"), "GG302")
    assert "does not require grad" in data.message


def test_flags_rebinding_under_no_grad():
    code = """
    import torch
    from torch import nn

    w = nn.Parameter(torch.randn(3))
    for _ in range(5):
        loss = (w ** 2).sum()
        loss.backward()
        with torch.no_grad():
            w = w - 0.1 * w.grad
        w.grad.zero_()
    """
    (finding,) = only(code, "GG302")
    assert finding.span.start.line == 9
    assert "under `no_grad`" in finding.message and "does not require grad" in finding.message
    (fix,) = finding.fixes
    assert fix.safety.value == "unsafe"
    (fixed,) = assert_all_fixes_repair(code, "GG302")
    assert "    with torch.no_grad():\n        w -= 0.1 * w.grad\n    w.grad" in fixed


def test_flags_update_in_function_with_unknown_argument_via_own_grad():
    code = """
    import torch

    def sgd_step(weight, lr):
        weight = weight - lr * weight.grad
        return weight
    """
    assert lines_of(code, "GG302") == [5]


def test_flags_tuple_updates_once_per_name_without_fix():
    code = """
    import torch
    w = torch.randn(3, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for _ in range(3):
        (w.sum() + b.sum()).backward()
        w, b = w - 0.1 * w.grad, b - 0.1 * b.grad
    """
    found = only(code, "GG302")
    assert sorted(f.message.split("`")[1] for f in found) == ["b = ...", "w = ..."]
    assert all(f.fixes == () for f in found)


def test_flags_loop_variable_over_parameters():
    code = """
    import torch.nn as nn
    import torch.optim as optim

    model = nn.Linear(3, 1)
    for p in model.parameters():
        p = p - 0.01 * p.grad
    """
    (finding,) = only(code, "GG302")
    assert "(the parameter itself) is never updated" in finding.message
    assert finding.fixes == ()  # no name for torch.no_grad in this file


def test_flags_loop_variable_over_list_of_tensors():
    code = """
    import torch
    w = torch.randn(3, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    params = [w, b]
    for step in range(5):
        (w.sum() + b.sum()).backward()
        for p in params:
            p = p - 0.1 * p.grad
    """
    (finding,) = only(code, "GG302")
    assert finding.span.start.line == 8 and "loop variable" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG302")
    assert "        with torch.no_grad():\n            p -= 0.1 * p.grad\n" in fixed


def test_loop_variable_fix_when_torch_is_imported():
    code = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)

    model = Net()
    for p in model.parameters():
        p = p - 0.01 * p.grad
    """
    (fixed,) = assert_all_fixes_repair(code, "GG302")
    assert "    with torch.no_grad():\n        p -= 0.01 * p.grad\n" in fixed


def test_fix_keeps_indentation_comment_and_uses_file_torch_name():
    code = """
    import torch as T

    w = T.ones(3, requires_grad=True)
    def train(lr):
        global w
        for _ in range(2):
            w.sum().backward()
            w = w - lr * w.grad  # manual SGD
    """
    (fixed,) = assert_all_fixes_repair(code, "GG302")
    assert "        with T.no_grad():\n            w -= lr * w.grad  # manual SGD\n" in fixed


def test_fix_uses_imported_no_grad_tabs_and_crlf():
    code = (
        "import torch\nfrom torch import no_grad\n"
        "w = torch.randn(3, requires_grad=True)\n"
        "for _ in range(2):\n\tw.sum().backward()\n\tw = w + 0.1 * w.grad\n"
    ).replace("\n", "\r\n")
    (finding,) = only(code, "GG302")
    (fix,) = finding.fixes
    fixed = apply_fix(code, fix)
    assert "\twith no_grad():\r\n\t\tw += 0.1 * w.grad\r\n" in fixed
    assert_all_fixes_repair(code, "GG302")


@pytest.mark.parametrize(
    "update",
    [
        "w = w.data - lr * w.grad",  # `.data` on the left of the operator: not the exact shape
        "w = lr * w.grad - w",
        "w = w * 0.9",
        "w = w - lr * w.grad - 0.01 * w",
    ],
)
def test_no_fix_unless_exact_shape(update):
    code = LOOP.format(update=update)
    (finding,) = only(code, "GG302")
    assert finding.fixes == ()


def test_no_fix_when_statement_shares_its_line():
    code = """
    import torch
    w = torch.randn(3, requires_grad=True)
    for _ in range(2):
        w.sum().backward()
        w = w - 0.1 * w.grad; print(w)
    for _ in range(2): w = w - 0.1 * w.grad
    """
    found = only(code, "GG302")
    assert [f.span.start.line for f in found] == [5, 6]
    assert all(f.fixes == () for f in found)


def test_no_grad_statement_on_one_line_gets_inplace_fix():
    code = """
    import torch
    w = torch.randn(3, requires_grad=True)
    for _ in range(2):
        w.sum().backward()
        with torch.no_grad(): w = w - 0.1 * w.grad
        w.grad.zero_()
    """
    (fixed,) = assert_all_fixes_repair(code, "GG302")
    assert "with torch.no_grad(): w -= 0.1 * w.grad\n" in fixed


@pytest.mark.parametrize(
    "code",
    [
        # In-place updates under no_grad: the idiom.
        LOOP.format(update="with torch.no_grad():\n        w -= lr * w.grad"),
        LOOP.format(update="with torch.no_grad():\n        w.sub_(lr * w.grad)"),
        # Legacy `.data` update: stays a leaf.
        LOOP.format(update="w.data = w.data - lr * w.grad.data"),
        # Ordinary reassignments of tensors that are not trained leaves.
        """
        import torch
        x = torch.randn(16, 3)
        mean = x.mean(0)
        x = x - mean
        x = x * 2 + 1
        """,
        # A fresh leaf is built on purpose.
        LOOP.format(update="w = (w - lr * w.grad).detach().requires_grad_()"),
        # Rebinding under no_grad, then requires_grad again: a new trainable leaf.
        LOOP.format(
            update="with torch.no_grad():\n        w = w - lr * w.grad\n    w.requires_grad_()"
        ),
        LOOP.format(
            update="with torch.no_grad():\n        w = w - lr * w.grad\n    w.requires_grad = True"
        ),
        # Rebinding outside no_grad, then detached into a new leaf.
        LOOP.format(update="w = w - lr * w.grad\n    w = w.detach().requires_grad_()"),
        # A value that is not a leaf requiring grad and no `.grad` in sight.
        """
        import torch
        def normalise(v, lr):
            v = v - lr * v.mean()
            return v
        """,
        # Attribute targets are GG202's business (parameters) or plain attributes.
        """
        import torch
        class State:
            pass
        s = State()
        s.w = torch.randn(3, requires_grad=True)
        s.w = s.w - 0.1 * s.w.grad
        """,
    ],
)
def test_does_not_flag(code):
    assert only(code, "GG302") == []


def test_engine_survives_odd_shapes():
    code = """
    import torch
    w = torch.randn(3, requires_grad=True)
    (w := w - w.grad)
    *a, b = w - w.grad, w
    w[0] = w[0] - w.grad[0]
    w: torch.Tensor = w - 0.1 * w.grad
    f = lambda w: w - w.grad
    """
    assert lines_of(code, "GG302") == [7]
    assert only(code, "GG302")[0].fixes == ()


@pytest.mark.parametrize(
    ("update", "detached"),
    [
        ("w = w.sub(lr * w.grad)", False),
        ("w = w.add(w.grad, alpha=-lr)", False),
        ("w = w.data.sub(lr * w.grad.data)", True),
        ("with torch.no_grad():\n        w = w.sub(lr * w.grad)", True),
    ],
)
def test_flags_method_form_of_the_update_without_fix(update, detached):
    (finding,) = only(LOOP.format(update=update), "GG302")
    assert finding.fixes == ()
    assert ("does not require grad" in finding.message) is detached


@pytest.mark.parametrize(
    "code",
    [
        # In-place method forms keep the leaf.
        LOOP.format(update="with torch.no_grad():\n        w.add_(w.grad, alpha=-lr)"),
        # A method on another tensor, or with no `.grad` and not a known leaf.
        LOOP.format(update="v = w.sub(lr * w.grad)"),
        "import torch\nx = torch.randn(3)\nx = x.sub(x.mean())\n",
    ],
)
def test_does_not_flag_other_method_calls(code):
    assert only(code, "GG302") == []
