import textwrap

import pytest

from helpers import apply_fix, assert_all_fixes_repair, lines_of, only


def single_fix(code: str) -> tuple[str, str, str]:
    """(title, safety, fixed text) of the only fix of the only GG303 finding."""
    (finding,) = only(code, "GG303")
    (fix,) = finding.fixes
    (fixed,) = assert_all_fixes_repair(code, "GG303")
    assert fixed == apply_fix(code, fix)
    return fix.title, fix.safety.value, fixed


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (
            "torch.randn(3, requires_grad=True).to(torch.float64)",
            "torch.randn(3, dtype=torch.float64, requires_grad=True)",
        ),
        (
            "torch.randn(3, requires_grad=True).double()",
            "torch.randn(3, dtype=torch.float64, requires_grad=True)",
        ),
        (
            "torch.zeros(2, 3, requires_grad=True).cuda()",
            'torch.zeros(2, 3, device="cuda", requires_grad=True)',
        ),
        (
            "torch.zeros(2, requires_grad=True).cuda(1)",
            'torch.zeros(2, device="cuda:1", requires_grad=True)',
        ),
        (
            'torch.ones(4, requires_grad=True).to("cuda:0")',
            'torch.ones(4, device="cuda:0", requires_grad=True)',
        ),
        (
            'torch.ones(4, requires_grad=True).to(device="cuda", dtype=torch.float16)',
            'torch.ones(4, device="cuda", dtype=torch.float16, requires_grad=True)',
        ),
        (
            'torch.ones(4, requires_grad=True).to(torch.device("cuda"))',
            'torch.ones(4, device=torch.device("cuda"), requires_grad=True)',
        ),
        (
            "torch.tensor([1.0, 2.0], requires_grad=True).type(torch.float64)",
            "torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)",
        ),
        (
            "torch.tensor([1, 2], requires_grad=True).float()",
            "torch.tensor([1, 2], dtype=torch.float32, requires_grad=True)",
        ),
        (
            "(torch.randn(3, requires_grad=True)).half()",
            "(torch.randn(3, dtype=torch.float16, requires_grad=True))",
        ),
    ],
)
def test_literal_conversion_moves_into_factory(expression, expected):
    code = f"import torch\nw = {expression}\n"
    (finding,) = only(code, "GG303")
    assert finding.severity.value == "warning"
    assert (finding.span.start.line, finding.span.start.column) == (1, 4)
    assert finding.span.end.column == 4 + len(expression)
    assert "non-leaf copy whenever it changes the dtype or device" in finding.message
    title, safety, fixed = single_fix(code)
    assert safety == "safe" and title.startswith("Pass `")
    assert fixed == f"import torch\nw = {expected}\n"


def test_uses_file_name_for_torch_in_moved_dtype():
    code = "import torch as th\nw = th.randn(3, requires_grad=True).double()\n"
    _, _, fixed = single_fix(code)
    assert fixed == "import torch as th\nw = th.randn(3, dtype=th.float64, requires_grad=True)\n"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("torch.randn(3, requires_grad=True) * 0.01", "(torch.randn(3) * 0.01).requires_grad_()"),
        ("0.01 * torch.randn(3, requires_grad=True)", "(0.01 * torch.randn(3)).requires_grad_()"),
        (
            "torch.randn(3, requires_grad=True).to(device)",
            "torch.randn(3).to(device).requires_grad_()",
        ),
        (
            "torch.randn(3, requires_grad=True).to(device).unsqueeze(0)",
            "torch.randn(3).to(device).unsqueeze(0).requires_grad_()",
        ),
        (
            "torch.randn(3, 4, requires_grad=True).view(12)",
            "torch.randn(3, 4).view(12).requires_grad_()",
        ),
        (
            "torch.ones((n), requires_grad=True).to(device)",
            "torch.ones((n)).to(device).requires_grad_()",
        ),
        (
            "torch.randn(3, requires_grad=True,).unsqueeze(1)",
            "torch.randn(3,).unsqueeze(1).requires_grad_()",
        ),
        (
            "torch.randn(3).requires_grad_().unsqueeze(0)",
            "torch.randn(3).unsqueeze(0).requires_grad_()",
        ),
        (
            "(torch.randn(3) * 2).requires_grad_(True).view(3, 1)",
            "(torch.randn(3) * 2).view(3, 1).requires_grad_()",
        ),
    ],
)
def test_otherwise_requires_grad_goes_last(expression, expected):
    code = f"import torch\ndevice = 'cuda'\nw = {expression}\n"
    title, safety, fixed = single_fix(code)
    assert (title, safety) == ("Call `.requires_grad_()` last", "safe")
    assert fixed == f"import torch\ndevice = 'cuda'\nw = {expected}\n"


def test_reported_once_at_the_first_operation_of_a_chain():
    code = "import torch\nw = torch.randn(3, requires_grad=True).to('cuda').unsqueeze(0)\n"
    (finding,) = only(code, "GG303")
    assert finding.span.end.column == len("w = torch.randn(3, requires_grad=True).to('cuda')")


def test_flags_inside_comprehension_and_optimizer_list():
    code = """
    import torch
    from torch import optim

    weights = [torch.zeros(2, requires_grad=True).cuda() for _ in range(3)]
    bias = torch.zeros(1, requires_grad=True).double()
    opt = optim.SGD([torch.randn(3, requires_grad=True).double(), bias], lr=0.1)
    """
    assert lines_of(code, "GG303") == [5, 6, 7]
    fixed_texts = assert_all_fixes_repair(code, "GG303")
    assert len(fixed_texts) == 3


def test_flags_in_module_init_with_aliases():
    code = """
    import torch
    import torch.nn as nn
    from torch.optim import AdamW as W

    class Scaler(nn.Module):
        def __init__(self, device):
            super().__init__()
            self.scale = torch.ones(1, requires_grad=True).to(device)

    model = Scaler("cuda")
    opt = W([model.scale], lr=1e-3)
    """
    (finding,) = only(code, "GG303")
    assert finding.span.start.line == 8
    (fixed,) = assert_all_fixes_repair(code, "GG303")
    assert "self.scale = torch.ones(1).to(device).requires_grad_()" in fixed


def test_requires_grad_call_on_named_tensor_is_flagged_without_fix():
    code = """
    import torch
    x = torch.randn(3)
    y = x.requires_grad_(True).unsqueeze(0)
    """
    (finding,) = only(code, "GG303")
    assert finding.span.start.line == 3 and finding.fixes == ()
    assert "after `.requires_grad_()`" in finding.message


def test_no_fix_where_the_value_feeds_a_larger_computation():
    code = """
    import torch
    x = torch.randn(3)
    loss = (torch.randn(3, requires_grad=True) * x).sum()
    """
    (finding,) = only(code, "GG303")
    assert finding.fixes == ()


# -- rebinding -----------------------------------------------------------------------


def test_rebinding_with_literal_moves_into_factory_and_removes_line():
    code = """
    import torch

    w = torch.randn(3, requires_grad=True)
    w = w.cuda()
    print(w)
    """
    (finding,) = only(code, "GG303")
    assert (finding.span.start.line, finding.span.start.column) == (4, 4)
    _title, safety, fixed = single_fix(code)
    assert safety == "safe"
    assert fixed == textwrap.dedent(
        """
        import torch

        w = torch.randn(3, device="cuda", requires_grad=True)
        print(w)
        """
    )


def test_rebinding_with_variable_puts_requires_grad_last():
    code = """
    import torch
    def make(device):
        w = torch.randn(3, requires_grad=True)
        w = w * 0.01
        return w
    """
    _, _, fixed = single_fix(code)
    assert "    w = torch.randn(3)\n    w = (w * 0.01).requires_grad_()\n" in fixed


def test_rebinding_after_requires_grad_call_on_tensor():
    code = """
    import torch
    x = torch.randn(3)
    x.requires_grad_()
    x = x.to("cuda")
    data = load()
    data.requires_grad = True
    data = data.unsqueeze(0)
    t = torch.zeros(2).requires_grad_()
    t = t.double()
    """
    found = only(code, "GG303")
    assert [f.span.start.line for f in found] == [4, 7, 9]
    assert all(f.fixes == () for f in found)


def test_rebinding_of_reported_non_leaf_is_reported_too():
    code = """
    import torch
    w = torch.randn(3, requires_grad=True).cuda()
    w = w.double()
    """
    found = only(code, "GG303")
    assert [f.span.start.line for f in found] == [2, 3]
    assert found[1].fixes == ()
    assert_all_fixes_repair(code, "GG303")


def test_rebinding_not_adjacent_has_no_fix():
    code = """
    import torch
    w = torch.randn(3, requires_grad=True)
    print(w.sum())
    w = w.double()
    """
    (finding,) = only(code, "GG303")
    assert finding.span.start.line == 4 and finding.fixes == ()


# -- .grad of a computed tensor --------------------------------------------------------


def test_flags_grad_read_of_computed_tensor():
    code = """
    import torch
    x = torch.randn(3, requires_grad=True)
    y = x * 2
    z = y.sum()
    z.backward()
    print(x.grad, y.grad)
    """
    (finding,) = only(code, "GG303")
    assert (finding.span.start.line, finding.span.start.column) == (6, 14)
    assert finding.span.end.column == 20
    assert "retain_grad" in finding.message and finding.fixes == ()


def test_flags_grad_read_of_model_output():
    code = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)

        def forward(self, x):
            return self.fc(x)

    def train(batch):
        model = Net()
        out = model(batch)
        out.sum().backward()
        return out.grad
    """
    assert lines_of(code, "GG303") == [17]


def test_flags_grad_read_of_moved_model_output_and_torch_function():
    code = """
    import torch
    import torch.nn.functional as F
    from torch import nn

    model = nn.Linear(3, 1)
    model = model.to("cuda")
    out = model(torch.randn(2, 3))
    w = torch.ones(3, requires_grad=True)
    h = F.relu(w)
    (out.sum() + h.sum()).backward()
    print(out.grad, h.grad, w.grad)
    """
    found = only(code, "GG303")
    assert [(f.span.start.line, f.span.start.column) for f in found] == [(11, 6), (11, 16)]


def test_grad_read_of_name_computed_from_flagged_creation():
    code = """
    import torch
    x = torch.randn(3, requires_grad=True).to(d)
    y = x * 2
    y.sum().backward()
    print(x.grad, y.grad)
    """
    found = only(code, "GG303")
    assert [(f.span.start.line, f.span.start.column) for f in found] == [(2, 4), (5, 14)]
    assert_all_fixes_repair(code, "GG303")


@pytest.mark.parametrize(
    "code",
    [
        # The catalogue's correct forms.
        "import torch\nw = (torch.randn(3) * 0.01).requires_grad_()\n",
        "import torch\ndevice = 'cuda'\n"
        "w = torch.randn(3, dtype=torch.float64, device=device, requires_grad=True)\n",
        # A leaf used in a computation: the normal autograd pattern.
        """
        import torch
        w = torch.randn(3, requires_grad=True)
        loss = (w * 2).sum()
        loss.backward()
        print(w.grad)
        w.grad.zero_()
        """,
        # Wrapped in a Parameter or detached: a leaf again.
        "import torch\nfrom torch import nn\n"
        "p = nn.Parameter(torch.randn(3, requires_grad=True) * 0.01)\n",
        "import torch\nw = (torch.randn(3, requires_grad=True) * 0.01).detach()\n",
        # requires_grad_ on modules: `.to()`, `.cuda()`, `[0]` are module methods too.
        """
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(2, 2))
        model.requires_grad_().to("cuda")
        model = model.requires_grad_(True).cuda()
        first = model.requires_grad_()[0]
        encoder.requires_grad_().to(device)
        m = model.requires_grad_()
        m = m.to("cuda")
        e = encoder.requires_grad_()
        e = e.cuda()
        """,
        # Not requiring grad: False or a variable flag.
        "import torch\nx = torch.randn(3).requires_grad_(False).unsqueeze(0)\n",
        "import torch\nx = torch.randn(3, requires_grad=flag).double()\n",
        "import torch\nx = torch.randn(3, requires_grad=False) * 2\n",
        # Under no_grad nothing requires grad.
        """
        import torch
        with torch.no_grad():
            w = torch.randn(3, requires_grad=True) * 0.01
        """,
        # retain_grad() before reading a non-leaf's grad.
        """
        import torch
        x = torch.randn(3, requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.sum().backward()
        print(y.grad)
        """,
        # Values that do not carry history.
        """
        import torch
        x = torch.randn(3, requires_grad=True)
        y = x.detach() * 2
        g = x.grad * 2
        print(y.grad, g.grad)
        """,
        # The update shape is GG302's.
        """
        import torch
        w = torch.randn(3, requires_grad=True)
        for _ in range(3):
            (w ** 2).sum().backward()
            w = w - 0.1 * w.grad
            w.grad.zero_()
        """,
        # Parameters taken from a (wrapped) model are leaves.
        """
        import torch
        from torch import nn
        model = nn.Linear(4, 4)
        net = nn.parallel.DistributedDataParallel(model.cuda(0), device_ids=[0])
        net(torch.ones(1, 4)).sum().backward()
        param = next(iter(net.parameters()))
        print(param.grad, model.weight.grad)
        """,
        # Item assignment into a fresh tensor is not an operation on its value.
        "import torch\ntorch.randn(3, requires_grad=True)[0] = 1.0\n",
        # A factory without requires_grad followed by operations.
        "import torch\nw = torch.randn(3).to('cuda') * 0.01\n",
        # Unknown names.
        "x = something.requires_grad_().to(device)\ny = z * 2\nprint(y.grad)\n",
    ],
)
def test_does_not_flag(code):
    assert only(code, "GG303") == []


def test_engine_survives_odd_shapes():
    code = """
    import torch
    kwargs = {}
    a = torch.randn(3, **kwargs, requires_grad=True).double()
    b = torch.randn(*shape, requires_grad=True).double()
    c = torch.randn(3, requires_grad=True).to(*args)
    d = torch.randn(3, requires_grad=True)[0]
    e = -torch.randn(3, requires_grad=True)
    f = torch.randn(3, 2, requires_grad=True).T
    g = torch.randn(requires_grad=True, size=(3,)).double()
    (h := torch.randn(3, requires_grad=True).double())
    """
    assert lines_of(code, "GG303") == [4, 5, 6, 7, 8, 9, 10, 11]
    assert_all_fixes_repair(code, "GG303")


@pytest.mark.parametrize(
    "code",
    [
        # A fresh tensor reduced at once: a value with history, not a parameter.
        "import torch\nmetric.update(torch.rand(8, requires_grad=True).mean())\n",
        """
        import torch
        loss = torch.randn(4, 2, requires_grad=True).sum()
        loss.backward()
        """,
        "import torch\nscaler.scale(torch.ones(5).requires_grad_().sum()).backward()\n",
    ],
)
def test_does_not_flag_a_fresh_tensor_reduced_at_once(code):
    assert only(code, "GG303") == []


def test_still_flags_an_operation_before_the_reduction():
    code = "import torch\nloss = (torch.randn(3, requires_grad=True).double()).sum()\n"
    assert lines_of(code, "GG303") == [2]
