import pytest

from gradguard.findings import FixSafety, Severity
from helpers import assert_all_fixes_repair, lines_of, only


def test_flags_second_optimizer_and_copies_for_every_optimizer():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(4, 2)
    groups = [{"params": [model.weight]}, {"params": [model.bias], "weight_decay": 0.0}]
    warmup = torch.optim.SGD(groups, lr=0.01)
    main = torch.optim.SGD(groups, lr=0.5)
    """
    (finding,) = only(code, "GG104")
    assert finding.severity is Severity.WARNING
    assert finding.span.start.line == 7
    assert "optimizer built on line 7" in finding.message
    (fix,) = finding.fixes
    assert fix.safety is FixSafety.SAFE
    (fixed,) = assert_all_fixes_repair(code, "GG104")
    # Copying only for the second would be too late: the first already wrote its lr.
    assert "warmup = torch.optim.SGD([dict(g) for g in groups], lr=0.01)" in fixed
    assert "main = torch.optim.SGD([dict(g) for g in groups], lr=0.5)" in fixed


def test_aliases_keyword_params_and_functions():
    code = """
    import torch.optim as optim
    from torch.optim import AdamW as W

    def build(model):
        groups = [
            {"params": list(model.body.parameters()), "lr": 1e-4},
            {"params": [p for p in model.head.parameters()]},
        ]
        first = optim.SGD(groups, lr=0.01)
        second = W(params=groups, lr=1e-3)
        third = optim.Adam(groups)
        return first, second, third
    """
    assert lines_of(code, "GG104") == [11, 12]
    for fixed in assert_all_fixes_repair(code, "GG104"):
        assert fixed.count("[dict(g) for g in groups]") == 3


def test_groups_built_with_append_and_reused_in_a_loop():
    code = """
    from torch.optim import AdamW

    groups = []
    for name, p in model.named_parameters():
        groups.append({"params": [p], "weight_decay": 0.0 if "bias" in name else 0.01})
    for lr in (1e-3, 1e-4):
        opt = AdamW(groups, lr=lr)
        train(opt)
    """
    (finding,) = only(code, "GG104")
    assert "earlier iteration of the loop on line 7" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG104")
    assert "opt = AdamW([dict(g) for g in groups], lr=lr)" in fixed


def test_no_fix_when_a_group_holds_a_generator():
    code = """
    import torch

    def build(model):
        groups = [{"params": model.fc.parameters()}, {"params": model.body.parameters()}]
        a = torch.optim.SGD(groups, lr=0.01)
        b = torch.optim.Adam(groups, lr=0.5)
        return a, b
    """
    (finding,) = only(code, "GG104")
    assert finding.span.start.line == 6
    assert finding.fixes == ()


def test_groups_returned_by_a_function_of_the_file_and_reused():
    code = """
    import torch.optim as optim
    from torch import nn

    def split_decay(net, wd):
        decay, no_decay = [], []
        for name, p in net.named_parameters():
            (no_decay if name.endswith("bias") else decay).append(p)
        return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]

    net = nn.Linear(8, 8)
    groups = split_decay(net, 0.05)
    main = optim.AdamW(groups, lr=1e-3)
    warmup = optim.SGD(groups, lr=1e-5)
    """
    (finding,) = only(code, "GG104")
    assert finding.span.start.line == 13
    assert "optimizer built on line 13" in finding.message
    assert finding.fixes == ()  # the groups hold names the rule cannot see are lists


@pytest.mark.parametrize(
    "function",
    [
        # Not always group dicts.
        "def make(net):\n    if net:\n        return [{'params': [net.weight]}]\n"
        "    return [net.weight]",
        # A generator of dicts is another problem (the second optimizer gets nothing).
        "def make(net):\n    yield {'params': [net.weight]}",
        # A list of tensors.
        "def make(net):\n    return [net.weight, net.bias]",
    ],
)
def test_function_results_that_are_not_group_lists_are_silent(function):
    code = (
        f"import torch\n{function}\n\ng = make(m)\n"
        "a = torch.optim.SGD(g, lr=0.1)\nb = torch.optim.SGD(g, lr=0.5)\n"
    )
    assert only(code, "GG104") == []


@pytest.mark.parametrize(
    "code",
    [
        # A list of tensors (no dicts) is not written to.
        """
        import torch
        params = [model.weight, model.bias]
        a = torch.optim.SGD(params, lr=0.1)
        b = torch.optim.SGD(params, lr=0.5)
        """,
        # Fresh groups for each optimizer.
        """
        import torch
        for lr in (0.1, 0.01):
            groups = [{"params": [w]}]
            opt = torch.optim.SGD(groups, lr=lr)
        """,
        """
        import torch
        groups = [{"params": [w]}]
        a = torch.optim.SGD(groups, lr=0.1)
        groups = [{"params": [w]}]
        b = torch.optim.SGD(groups, lr=0.5)
        """,
        # One optimizer per branch.
        """
        import torch
        groups = [{"params": [w]}]
        if adam:
            opt = torch.optim.Adam(groups)
        else:
            opt = torch.optim.SGD(groups, lr=0.1)
        """,
        # Copies already.
        """
        import torch
        groups = [{"params": [w]}]
        a = torch.optim.SGD([dict(g) for g in groups], lr=0.1)
        b = torch.optim.SGD([dict(g) for g in groups], lr=0.5)
        """,
        # A loop's else block runs once.
        """
        import torch
        groups = [{"params": [w]}]
        for x in range(3):
            pass
        else:
            opt = torch.optim.SGD(groups, lr=0.1)
        """,
        # One construction only.
        """
        import torch
        groups = [{"params": [w]}, {"params": [b], "lr": 0.1}]
        opt = torch.optim.SGD(groups, lr=0.01)
        """,
        # Unknown content.
        """
        import torch
        groups = make_groups(model)
        a = torch.optim.SGD(groups, lr=0.1)
        b = torch.optim.SGD(groups, lr=0.5)
        """,
    ],
)
def test_does_not_flag(code):
    assert only(code, "GG104") == []


@pytest.mark.parametrize(
    "code",
    [
        "import torch\ng = []\ng.append(*x)\ntorch.optim.SGD(g)\ntorch.optim.SGD(g)\n",
        "import torch\ng = [{**d}]\ntorch.optim.SGD(g)\ntorch.optim.SGD(g)\n",
        "import torch\ng, h = [{}], 1\ntorch.optim.SGD(g)\ntorch.optim.SGD(g)\n",
    ],
)
def test_odd_shapes_do_not_crash(code):
    only(code, "GG104")


# -- issue 11: the list is an object of the semantic model -----------------------------


def test_groups_from_a_trainer_method_through_a_local_and_a_conditional():
    code = """
    import torch
    from torch import nn


    class Trainer:
        def __init__(self, model, cfg):
            self.model = model
            self.cfg = cfg

        def param_groups(self):
            decay = [p for n, p in self.model.named_parameters() if not n.endswith("bias")]
            groups = [{"params": decay, "weight_decay": 0.01}]
            return groups

        def configure_optimizers(self):
            whole = [{"params": list(self.model.parameters())}]
            groups = self.param_groups() if self.cfg.decay else whole
            base = torch.optim.AdamW(groups, lr=1e-3)
            swa = torch.optim.SGD(groups, lr=0.05)
            return base, swa
    """
    (finding,) = only(code, "GG104")
    assert finding.span.start.line + 1 == 20
    assert "optimizer built on line 19" in finding.message
    for fixed in assert_all_fixes_repair(code, "GG104"):
        assert fixed.count("[dict(g) for g in groups]") == 2


def test_groups_defined_in_both_branches_are_one_list_for_the_constructions_after():
    code = """
    import torch


    def build(model, split):
        if split:
            groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.0}]
        else:
            groups = [{"params": [model.weight, model.bias]}]
        first = torch.optim.SGD(groups, lr=0.1)
        second = torch.optim.Adam(groups, lr=1e-3)
        return first, second
    """
    assert lines_of(code, "GG104") == [11]


@pytest.mark.parametrize(
    "body",
    [
        # Two calls of the helper: two fresh lists.
        "a = get_groups(model)\n    b = get_groups(model)\n"
        "    first = torch.optim.SGD(a, lr=0.1)\n    second = torch.optim.SGD(b, lr=0.5)",
        # The name is given a fresh list before the second construction.
        "groups = get_groups(model)\n    first = torch.optim.SGD(groups, lr=0.1)\n"
        "    groups = get_groups(model)\n    second = torch.optim.SGD(groups, lr=0.5)",
        # Only one of the two constructions runs.
        "groups = get_groups(model)\n    if warmup:\n"
        "        opt = torch.optim.SGD(groups, lr=0.1)\n"
        "    else:\n        opt = torch.optim.SGD(groups, lr=0.5)",
    ],
)
def test_fresh_lists_and_exclusive_constructions_are_left_alone(body):
    code = f"""
import torch


def get_groups(model):
    groups = [{{"params": [model.weight]}}, {{"params": [model.bias]}}]
    return groups


def build(model, warmup):
    {body}
"""
    assert only(code, "GG104") == []
