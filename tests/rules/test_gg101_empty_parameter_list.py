import pytest

from gradguard.findings import FixSafety, Severity
from helpers import assert_all_fixes_repair, lines_of, only

# -- literal empty list / tuple ------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        "optim.SGD([], lr=0.01)",
        "optim.Adam(())",
        "optim.SGD(params=[], lr=0.1)",
        "optim.AdamW(list(), lr=1e-3)",
    ],
)
def test_flags_empty_literal_as_error(call):
    code = f"""
    import torch.optim as optim

    optimizer = {call}
    """
    (finding,) = only(code, "GG101")
    assert finding.severity is Severity.ERROR
    assert finding.span.start.line == 3
    assert "optimizer got an empty parameter list" in finding.message
    assert finding.fixes == ()


def test_empty_list_then_add_param_group_moves_creation_below_model():
    code = """
    import torch
    from torch import nn

    optimizer = torch.optim.SGD([], lr=0.01)
    model = nn.Linear(3, 2)
    optimizer.add_param_group({'params': model.parameters()})
    for _ in range(2):
        optimizer.step()
    """
    (finding,) = only(code, "GG101")
    assert finding.span.start.line == 4
    (fix,) = finding.fixes
    assert fix.safety is FixSafety.UNSAFE
    assert fix.title == "Create the optimizer below line 6 from the added parameters"
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert fixed.splitlines()[4:7] == [
        "model = nn.Linear(3, 2)",
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.01)",
        "for _ in range(2):",
    ]
    assert "add_param_group" not in fixed


def test_add_param_group_with_options_keeps_the_group_dict_in_place():
    code = """
    import torch
    from torch import nn

    def build():
        model = nn.Linear(3, 2)
        optimizer = torch.optim.SGD([], lr=0.01)
        optimizer.add_param_group({'params': model.parameters(), 'lr': 0.1})
        return optimizer
    """
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert (
        "    optimizer = torch.optim.SGD([{'params': model.parameters(), 'lr': 0.1}], lr=0.01)"
        in fixed
    )
    assert "add_param_group" not in fixed


def test_move_keeps_tabs_and_crlf():
    code = (
        "import torch\r\nfrom torch import nn\r\n\r\ndef build():\r\n"
        "\toptimizer = torch.optim.Adam([])\r\n\tnet = nn.Linear(2, 2)\r\n"
        "\toptimizer.add_param_group({'params': net.parameters()})\r\n\treturn optimizer\r\n"
    )
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert fixed == (
        "import torch\r\nfrom torch import nn\r\n\r\ndef build():\r\n"
        "\tnet = nn.Linear(2, 2)\r\n\toptimizer = torch.optim.Adam(net.parameters())\r\n"
        "\treturn optimizer\r\n"
    )


def test_no_move_when_optimizer_used_before_the_model_exists():
    code = """
    import torch
    from torch import nn

    optimizer = torch.optim.SGD([], lr=0.01)
    print(optimizer)
    model = nn.Linear(3, 2)
    optimizer.add_param_group({'params': model.parameters()})
    """
    (finding,) = only(code, "GG101")
    assert finding.fixes == ()


def test_no_move_when_model_is_created_in_another_block():
    code = """
    import torch
    from torch import nn

    optimizer = torch.optim.SGD([], lr=0.01)
    if True:
        model = nn.Linear(3, 2)
    optimizer.add_param_group({'params': model.parameters()})
    """
    (finding,) = only(code, "GG101")
    assert finding.fixes == ()


def test_no_move_with_two_add_param_group_calls():
    code = """
    import torch
    from torch import nn

    optimizer = torch.optim.SGD([], lr=0.01)
    a = nn.Linear(3, 2)
    b = nn.Linear(2, 2)
    optimizer.add_param_group({'params': a.parameters()})
    optimizer.add_param_group({'params': b.parameters()})
    """
    (finding,) = only(code, "GG101")
    assert finding.fixes == ()


# -- consumed generators -------------------------------------------------------------


def test_generator_given_to_two_optimizers():
    code = """
    import torch
    import torch.nn as nn

    model = nn.Linear(4, 2)
    params = model.parameters()
    optimizer = torch.optim.SGD(params, lr=0.1)
    swa = torch.optim.SGD(params, lr=0.05)
    """
    (finding,) = only(code, "GG101")
    assert finding.span.start.line == 7
    assert finding.severity is Severity.ERROR
    assert "consumed on line 7 (by an optimizer)" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert "params = list(model.parameters())" in fixed
    assert finding.fixes[0].safety is FixSafety.SAFE


def test_generator_materialised_with_list_then_given_to_optimizer():
    code = """
    from torch import optim

    def train(model):
        params = model.parameters()
        print(len(list(params)))
        return optim.Adam(params)
    """
    (finding,) = only(code, "GG101")
    assert finding.span.start.line == 6
    assert finding.severity is Severity.ERROR
    assert_all_fixes_repair(code, "GG101")


def test_filter_looped_over_before_the_optimizer():
    code = """
    from torch.optim import AdamW as W

    class Trainer:
        def setup(self, model):
            trainable = filter(lambda p: p.requires_grad, model.parameters())
            for p in trainable:
                print(p.shape)
            self.opt = W(trainable, lr=1e-3)
    """
    assert lines_of(code, "GG101") == [9]
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert "trainable = list(filter(lambda p: p.requires_grad, model.parameters()))" in fixed


def test_clip_grad_norm_then_optimizer_and_map_and_generator_expression():
    code = """
    import torch

    def run(model, loss):
        mapped = map(lambda p: p, model.parameters())
        torch.nn.utils.clip_grad_norm_(mapped, 1.0)
        torch.optim.SGD(mapped, lr=0.1)
        gen = (p for p in model.parameters())
        torch.optim.SGD(gen, lr=0.1)
        torch.optim.SGD(params=gen, lr=0.1)
    """
    assert lines_of(code, "GG101") == [7, 10]
    for fixed in assert_all_fixes_repair(code, "GG101"):
        assert "list(map(" in fixed or "list((p for p" in fixed


def test_reverse_optimizer_consumes_then_clip_grad_is_silent_warning():
    code = """
    import torch
    from torch import nn
    from torch.nn.utils import clip_grad_norm_

    model = nn.Linear(4, 2)
    trainable = filter(lambda p: p.requires_grad, model.parameters())
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    for step in range(3):
        optimizer.zero_grad()
        model(torch.randn(2, 4)).sum().backward()
        clip_grad_norm_(trainable, max_norm=1.0)
        optimizer.step()
    """
    (finding,) = only(code, "GG101")
    assert finding.span.start.line == 11
    assert finding.severity is Severity.WARNING
    assert "clips nothing" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert "trainable = list(filter(" in fixed


def test_generator_reused_by_a_manual_update_loop_in_every_iteration():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    params = model.parameters()
    for epoch in range(3):
        model(torch.randn(2, 4)).sum().backward()
        with torch.no_grad():
            for p in params:
                p -= 0.1 * p.grad
    """
    (finding,) = only(code, "GG101")
    assert finding.span.start.line == 9
    assert finding.severity is Severity.WARNING
    assert finding.message.endswith(
        "first iteration of the loop on line 7 consumes, "
        "so in every later iteration this loop runs no iterations"
    )
    assert_all_fixes_repair(code, "GG101")


def test_generator_inside_group_dict_reused():
    code = """
    import torch

    def build(model):
        head = model.parameters()
        first = torch.optim.SGD([{'params': head, 'lr': 0.1}])
        second = torch.optim.SGD([{'params': head}], lr=0.1)
        return first, second
    """
    assert lines_of(code, "GG101") == [7]


# -- wrong kinds of argument ---------------------------------------------------------


def test_missing_call_adds_parentheses():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

    model = Net()
    optimizer = torch.optim.SGD(model.parameters, lr=0.1)
    """
    (finding,) = only(code, "GG101")
    assert finding.severity is Severity.ERROR
    assert "'method' object is not iterable" in finding.message
    assert finding.fixes[0].safety is FixSafety.SAFE
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert "torch.optim.SGD(model.parameters(), lr=0.1)" in fixed


def test_missing_call_inside_a_group_and_in_a_method():
    code = """
    from torch import nn, optim

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 4)
            self.head = nn.Linear(4, 2)

        def configure(self):
            return optim.Adam([{'params': self.head.parameters}], lr=1e-3)
    """
    assert lines_of(code, "GG101") == [11]
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert "self.head.parameters()" in fixed


@pytest.mark.parametrize(
    ("setup", "argument", "expected"),
    [
        ("model = nn.Linear(4, 2)", "model", "model.parameters()"),
        ("model = Net()", "model", "model.parameters()"),
        ("model = build()", "model", "model.parameters()"),
        ("model = Net().to('cpu')", "model", "model.parameters()"),
        ("model = Net()\n    model = model.to('cpu')", "model", "model.parameters()"),
        ("model = Net()", "model.body", "model.body.parameters()"),
    ],
)
def test_module_passed_gets_parameters_call(setup, argument, expected):
    code = f"""
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 2)

    def build():
        return nn.Sequential(nn.Linear(4, 2))

    {setup}
    optimizer = torch.optim.SGD({argument}, lr=0.1)
    """
    (finding,) = only(code, "GG101")
    assert finding.severity is Severity.ERROR
    assert finding.span.start.line == 13 + setup.count("\n")
    assert "TypeError" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert f"torch.optim.SGD({expected}, lr=0.1)" in fixed


def test_module_in_group_dict_gets_parameters_call():
    code = """
    import torch
    from torch import nn
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD([{'params': model}], lr=0.1)
    """
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert "{'params': model.parameters()}" in fixed


def test_module_held_by_a_plain_agent_class_or_unpacked_from_a_tuple():
    code = """
    import torch
    import torch.nn as nn
    import torch.optim as optim

    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

    class Agent:
        def __init__(self, device):
            self.policy = Policy().to(device)
            self.policy_opt = optim.Adam(self.policy, lr=3e-4)

    pi, pi_target = Policy(), Policy()
    pi_opt = optim.Adam(pi, lr=1e-3)
    """
    assert lines_of(code, "GG101") == [14, 17]
    fixed = assert_all_fixes_repair(code, "GG101")
    assert "optim.Adam(self.policy.parameters(), lr=3e-4)" in fixed[0]
    assert "optim.Adam(pi.parameters(), lr=1e-3)" in fixed[1]


@pytest.mark.parametrize(
    "other",
    [
        "self.policy = None",  # not always a module
        "self.policy, self.value = make_nets()",  # unpacked from something unknown
    ],
)
def test_agent_attribute_that_is_not_surely_a_module_is_silent(other):
    code = f"""
    import torch
    import torch.nn as nn

    class Agent:
        def __init__(self, net):
            self.policy = net
            self.policy_opt = torch.optim.Adam(self.policy, lr=3e-4)

    class Learner:
        def __init__(self):
            self.policy = nn.Linear(4, 2)
            self.opt = torch.optim.Adam(self.policy, lr=3e-4)

        def reset(self):
            {other}
    """
    assert only(code, "GG101") == []


@pytest.mark.parametrize(
    "argument",
    ["model.weight", "layer.bias", "w", "net.scale"],
)
def test_single_tensor_is_wrapped_in_a_list(argument):
    code = f"""
    import torch
    from torch import nn

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))

    model = nn.Linear(4, 2)
    layer = nn.Conv2d(3, 8, 3)
    w = torch.randn(3, requires_grad=True)
    net = Scaled()
    optimizer = torch.optim.Adam({argument}, lr=0.1)
    """
    (finding,) = only(code, "GG101")
    assert finding.severity is Severity.ERROR
    assert "iterable of Tensors or dicts" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert f"torch.optim.Adam([{argument}], lr=0.1)" in fixed


@pytest.mark.parametrize(
    ("argument", "text", "severity"),
    [
        ("dict(model.named_parameters())", "one of the params is str", Severity.ERROR),
        ("{n: p for n, p in model.named_parameters()}", "one of the params is str", Severity.ERROR),
        ("model.state_dict()", "one of the params is str", Severity.ERROR),
        ("model.state_dict().values()", "detached copies", Severity.WARNING),
        ("list(model.state_dict().values())", "detached copies", Severity.WARNING),
        ("[model.weight * 2]", "can't optimize a non-leaf Tensor", Severity.ERROR),
        ("[-model.bias, model.weight]", "can't optimize a non-leaf Tensor", Severity.ERROR),
        ("[w.double()]", "can't optimize a non-leaf Tensor", Severity.ERROR),
        ("[torch.randn(3, requires_grad=True).unsqueeze(0)]", "non-leaf", Severity.ERROR),
    ],
)
def test_wrong_kinds_without_fix(argument, text, severity):
    code = f"""
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    w = nn.Parameter(torch.randn(3))
    optimizer = torch.optim.SGD({argument}, lr=0.1)
    """
    (finding,) = only(code, "GG101")
    assert finding.span.start.line == 6
    assert text in finding.message
    assert finding.severity is severity
    assert finding.fixes == ()


@pytest.mark.parametrize(
    "groups",
    [
        "[{'params': net.parameters()}, {'params': [log_temp.exp()], 'lr': 1e-2}]",
        "[{'params': [net.weight * 0.5]}]",
        "[{'params': log_temp.exp()}]",
    ],
)
def test_non_leaf_inside_a_parameter_group(groups):
    code = f"""
    import torch
    import torch.nn as nn

    net = nn.Linear(3, 3)
    log_temp = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam({groups}, lr=1e-3)
    """
    (finding,) = only(code, "GG101")
    assert finding.span.start.line == 6
    assert "can't optimize a non-leaf Tensor" in finding.message
    assert finding.severity is Severity.ERROR


def test_leaf_tensors_inside_a_parameter_group_are_fine():
    code = """
    import torch
    import torch.nn as nn

    net = nn.Linear(3, 3)
    log_temp = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([{'params': net.parameters()}, {'params': [log_temp]}], lr=1e-3)
    """
    assert only(code, "GG101") == []


def test_dict_followed_through_a_name():
    code = """
    import torch
    from torch import nn
    model = nn.Linear(4, 2)
    params = dict(model.named_parameters())
    optimizer = torch.optim.SGD(params, lr=0.1)
    """
    assert lines_of(code, "GG101") == [6]


# -- frozen model, then a requires_grad filter --------------------------------------


@pytest.mark.parametrize(
    "freeze",
    [
        "for p in model.parameters():\n    p.requires_grad = False",
        "for name, p in model.named_parameters():\n    p.requires_grad_(False)",
        "model.requires_grad_(False)",
    ],
)
@pytest.mark.parametrize(
    "params",
    [
        "filter(lambda q: q.requires_grad, model.parameters())",
        "[q for q in model.parameters() if q.requires_grad]",
    ],
)
def test_filter_after_freezing_everything(freeze, params):
    code = (
        "import torch\nimport torchvision\n\n"
        "model = torchvision.models.resnet18()\n"
        f"{freeze}\n"
        "model.eval()\n"
        f"optimizer = torch.optim.SGD({params}, lr=0.1)\n"
    )
    (finding,) = only(code, "GG101")
    assert finding.severity is Severity.ERROR
    assert "frozen at line 5" in finding.message


def test_filter_bound_to_a_name_after_freezing_in_a_function():
    code = """
    import torch

    def finetune(model):
        for param in model.parameters():
            param.requires_grad = False
        trainable = filter(lambda p: p.requires_grad, model.parameters())
        return torch.optim.Adam(trainable, lr=1e-3)
    """
    assert lines_of(code, "GG101") == [8]


@pytest.mark.parametrize(
    "between",
    [
        "model.fc = torch.nn.Linear(512, 10)",
        "for p in model.fc.parameters():\n    p.requires_grad = True",
        "model.fc.requires_grad_(True)",
        "add_head(model)",
        "model.fc.weight.requires_grad_()",
    ],
)
def test_no_frozen_filter_finding_when_something_was_unfrozen(between):
    code = (
        "import torch\nimport torchvision\n\n"
        "model = torchvision.models.resnet18()\n"
        "for p in model.parameters():\n    p.requires_grad = False\n"
        f"{between}\n"
        "optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()))\n"
    )
    assert only(code, "GG101") == []


def test_no_frozen_filter_finding_for_partial_or_conditional_freezes():
    code = """
    import torch
    import torchvision

    model = torchvision.models.resnet18()
    for name, p in model.named_parameters():
        if not name.startswith("fc"):
            p.requires_grad = False
    for p in model.layer1.parameters():
        p.requires_grad = False
    if freeze_all:
        model.requires_grad_(False)
    optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
    """
    assert only(code, "GG101") == []


# -- must not flag --------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        # An empty group, then add_param_group (works on torch 2.13.0).
        """
        import torch
        from torch import nn
        optimizer = torch.optim.SGD([{'params': []}], lr=0.01)
        model = nn.Linear(3, 2)
        optimizer.add_param_group({'params': model.parameters()})
        """,
        # named_parameters() is accepted by current torch.
        """
        import torch
        from torch import nn
        model = nn.Linear(3, 2)
        optimizer = torch.optim.SGD(model.named_parameters(), lr=0.01)
        """,
        # A list built from the generator and reused.
        """
        import torch
        from torch import nn
        model = nn.Linear(3, 2)
        params = list(model.parameters())
        optimizer = torch.optim.SGD(params, lr=0.1)
        swa = torch.optim.SGD(params, lr=0.05)
        for step in range(3):
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            for p in params:
                print(p.grad)
        """,
        # The generator is created again before each use.
        """
        import torch
        def run(model):
            params = model.parameters()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            params = model.parameters()
            return torch.optim.SGD(params, lr=0.1)
        """,
        # One use per branch.
        """
        import torch
        def build(model, use_adam):
            params = filter(lambda p: p.requires_grad, model.parameters())
            if use_adam:
                return torch.optim.Adam(params)
            else:
                return torch.optim.SGD(params, lr=0.1)
        """,
        # A generator created inside the loop that consumes it.
        """
        import torch
        def train(model, loader, optimizer):
            for x in loader:
                model(x).sum().backward()
                params = model.parameters()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
        """,
        # Correct programs of the same shapes.
        """
        import torch
        import torch.optim as optim
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)
                self.w = nn.Parameter(torch.ones(1))
        model = Net()
        a = optim.SGD(model.parameters(), lr=0.1)
        b = optim.SGD([model.fc.weight], lr=0.1)
        c = optim.SGD([model.w, model.fc.bias], lr=0.1)
        d = optim.SGD(model.fc.parameters(), lr=0.1)
        e = optim.SGD([{'params': model.fc.parameters()}, {'params': [model.w]}], lr=0.1)
        f = optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
        g = optim.SGD(model.state_dict(keep_vars=True).values(), lr=0.1)
        """,
        # Unknown values: stay silent.
        """
        import torch
        def build(model, weights, params):
            a = torch.optim.SGD(model, lr=0.1)
            b = torch.optim.SGD(weights * 2, lr=0.1)
            c = torch.optim.SGD([params * 2], lr=0.1)
            return a, b, c
        """,
        # Iterators over data, and loops that may stop early.
        """
        import torch
        batches = iter(loader)
        for epoch in range(3):
            for batch in batches:
                model(batch).sum().backward()
                optimizer.step()
        params = model.parameters()
        for p in params:
            if p.requires_grad:
                break
        optimizer = torch.optim.SGD(params, lr=0.1)
        """,
        # A micrograd-style class whose parameters() returns a list.
        """
        import torch
        class MLP:
            def parameters(self):
                return [torch.zeros(1, requires_grad=True)]
        mlp = MLP()
        params = mlp.parameters()
        a = torch.optim.SGD(params, lr=0.1)
        b = torch.optim.SGD(params, lr=0.1)
        c = torch.optim.SGD(mlp.parameters, lr=0.1)
        """,
        # A shadowed filter and a non-torch SGD.
        """
        from mylib import filter, SGD
        import torch
        params = filter(lambda p: p.requires_grad, model.parameters())
        a = torch.optim.SGD(params, lr=0.1)
        b = torch.optim.SGD(params, lr=0.1)
        c = SGD([])
        """,
    ],
)
def test_does_not_flag(code):
    assert only(code, "GG101") == []


@pytest.mark.parametrize(
    "code",
    [
        "import torch\ntorch.optim.SGD(*groups)\n",
        "import torch\ntorch.optim.SGD(lr=0.1)\n",
        "import torch\nx = (g := filter(None, []))\ntorch.optim.SGD(g)\ntorch.optim.SGD(g)\n",
        "import torch\nfor p in model.parameters: pass\ntorch.optim.SGD([][0])\n",
        "import torch\nopt = torch.optim.SGD([])\nopt.add_param_group(**kw)\n",
        "import torch\nopt = torch.optim.SGD([]); m = M()\nopt.add_param_group({'params': m})\n",
    ],
)
def test_odd_shapes_do_not_crash(code):
    only(code, "GG101")


# -- issue 11, shape 6 ---------------------------------------------------------------------


def test_an_iterator_returned_by_a_helper_given_to_two_optimizers():
    code = """
    import torch
    from torch import nn


    def params_of(m):
        return m.parameters()


    def build_optimizers(model):
        params = params_of(model)
        actor_opt = torch.optim.SGD(params, lr=0.1)
        critic_opt = torch.optim.Adam(params, lr=1e-3)
        return actor_opt, critic_opt


    build_optimizers(nn.Linear(4, 2))
    """
    (finding,) = only(code, "GG101")
    assert finding.span.start.line + 1 == 13
    assert "one-shot iterator already consumed on line 12" in finding.message


def test_a_helper_returning_a_list_of_parameters_is_left_alone():
    code = """
    import torch
    from torch import nn


    def params_of(m):
        return list(m.parameters())


    model = nn.Linear(4, 2)
    params = params_of(model)
    actor_opt = torch.optim.SGD(params, lr=0.1)
    critic_opt = torch.optim.Adam(params, lr=1e-3)
    """
    assert only(code, "GG101") == []


@pytest.mark.parametrize("operation", ["w.neg()", "w.narrow(0, 0, 1)", "w.clone()", "w.sum()"])
def test_an_operation_on_a_parameter_is_a_non_leaf(operation):
    code = f"""
    import torch
    from torch import nn

    w = nn.Parameter(torch.randn(3, 3))
    optimizer = torch.optim.SGD([{operation}], lr=0.1)
    """
    (finding,) = only(code, "GG101")
    assert "non-leaf" in finding.message


def test_the_parameter_itself_is_left_alone():
    code = """
    import torch
    from torch import nn

    w = nn.Parameter(torch.randn(3, 3))
    optimizer = torch.optim.SGD([w], lr=0.1)
    """
    assert only(code, "GG101") == []


# -- a consumed iterator reused through an alias (PixArt-alpha#160) ----------------------


def test_filter_given_to_the_optimizer_then_clipped_through_an_alias():
    code = """
    import torch
    from torch import nn

    def train(unet, loader, max_grad_norm):
        lora_layers = filter(lambda p: p.requires_grad, unet.parameters())
        optimizer = torch.optim.AdamW(lora_layers, lr=1e-4)
        for batch in loader:
            unet(batch).mean().backward()
            params_to_clip = lora_layers
            nn.utils.clip_grad_norm_(params_to_clip, max_grad_norm)
            optimizer.step()
            optimizer.zero_grad()
    """
    (finding,) = only(code, "GG101")
    assert finding.span.start.line == 10
    assert finding.severity is Severity.WARNING
    assert (
        "`params_to_clip` holds `lora_layers`, a one-shot iterator already consumed on "
        "line 7 (by an optimizer), so gradient clipping here sees no parameters"
    ) in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG101")
    assert "lora_layers = list(filter(lambda p: p.requires_grad, unet.parameters()))" in fixed


def test_an_alias_looped_over_in_every_epoch():
    code = """
    def log_norms(model, epochs):
        params = model.parameters()
        for epoch in range(epochs):
            current = params
            for p in current:
                print(epoch, p.norm())
    """
    (finding,) = only(code, "GG101")
    assert finding.span.start.line == 5
    assert "`current` holds `params`, a one-shot iterator that the first iteration" in (
        finding.message
    )


@pytest.mark.parametrize(
    "body",
    [
        # the alias is never consumed
        "params_to_clip = lora_layers\nprint(params_to_clip)",
        # the name is bound again before the alias: a fresh iterator
        "lora_layers = filter(lambda p: p.requires_grad, unet.parameters())\n"
        "params_to_clip = lora_layers\n"
        "nn.utils.clip_grad_norm_(params_to_clip, 1.0)",
        # an alias of something else
        "params_to_clip = other\nnn.utils.clip_grad_norm_(params_to_clip, 1.0)",
    ],
)
def test_aliases_of_fresh_or_materialised_iterators_are_silent(body):
    code = (
        "import torch\nfrom torch import nn\n\n"
        "def train(unet, other):\n"
        "    lora_layers = filter(lambda p: p.requires_grad, unet.parameters())\n"
        "    optimizer = torch.optim.AdamW(lora_layers, lr=1e-4)\n"
        + "".join(f"    {line}\n" for line in body.split("\n"))
    )
    assert only(code, "GG101") == []
