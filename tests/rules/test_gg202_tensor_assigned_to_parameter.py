import pytest

from helpers import assert_all_fixes_repair, lines_of, only

# -- what it flags -------------------------------------------------------------------------


def test_flags_factory_tensor_assigned_to_layer_weight():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(3, 2)
    model.weight = torch.randn(2, 3)
    """
    (finding,) = only(code, "GG202")
    assert finding.span.start.line == 5
    assert finding.severity.value == "error"
    assert "cannot assign" in finding.message
    assert "as parameter 'weight' (torch.nn.Parameter or None expected)" in finding.message


def test_flags_manual_update_of_submodule_weight():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x)

    model = Net()
    lr = 0.1
    loss = model(torch.randn(4, 3)).sum()
    loss.backward()
    g = model.fc.weight.grad
    with torch.no_grad():
        model.fc.weight = model.fc.weight - lr * g
        model.fc.bias = model.fc.bias.data
    """
    assert lines_of(code, "GG202") == [19, 20]


def test_flags_softmax_over_own_parameter_in_forward():
    code = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Mix(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.layer_weights = nn.Parameter(torch.ones(n))

        def forward(self, xs):
            self.layer_weights = F.softmax(self.layer_weights, 0)
            return (xs * self.layer_weights).sum(0)
    """
    (finding,) = only(code, "GG202")
    assert finding.span.start.line == 11
    assert "'layer_weights'" in finding.message


@pytest.mark.parametrize(
    "value",
    [
        "-model.weight",
        "model.weight.clone()",
        "model.weight.detach() * 2",
        "torch.zeros_like(model.weight)",
        "new_weight",
        "F.normalize(model.weight, dim=1)",
    ],
)
def test_flags_other_plain_tensor_expressions(value):
    code = f"""
    import torch
    import torch.nn.functional as F
    model = torch.nn.Conv1d(2, 2, 3)
    new_weight = torch.randn(2, 2, 3)
    model.weight = {value}
    """
    assert lines_of(code, "GG202") == [6]


def test_flags_in_init_after_registration_and_in_layer_subclass():
    code = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3))
            self.w = self.w * 0.01

    class Scaled(nn.Linear):
        def scale(self):
            self.weight = self.weight * 2
    """
    assert lines_of(code, "GG202") == [9, 13]


def test_flags_in_weight_init_function_with_isinstance():
    code = """
    import torch
    import torch.nn as nn

    def init_weights(m):
        if isinstance(m, nn.Linear):
            m.weight = torch.randn(m.out_features, m.in_features) * 0.02

    net = nn.Sequential(nn.Linear(2, 2))
    net.apply(init_weights)
    """
    assert lines_of(code, "GG202") == [7]


# -- what it must not flag -----------------------------------------------------------------


def test_does_not_flag_parameters_none_and_in_place_updates():
    code = """
    import torch
    import torch.nn as nn

    model = nn.Linear(3, 2)
    model.weight = nn.Parameter(torch.randn(2, 3))
    model.bias = None
    with torch.no_grad():
        model.weight -= 0.1 * model.weight
        model.weight.copy_(model.weight * 0.5)
    model.weight.data = model.weight.data * 0.5
    model.weight = model.weight.to("cpu")
    model.weight = nn.init.normal_(model.weight)
    """
    assert only(code, "GG202") == []


def test_does_not_flag_plain_attributes_or_tensors_before_registration():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.randn(3)
            self.w = nn.Parameter(self.w)
            self.register_buffer("mask", torch.ones(3))
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            self.mask = self.mask * 0.5
            self.last = x * 2
            w = torch.softmax(self.w, 0)
            return self.fc(x) * w

    model = Net()
    model.mask = torch.zeros(3)
    seq = nn.Sequential(nn.Linear(2, 2))
    seq.weight = torch.zeros(2)
    """
    assert only(code, "GG202") == []


def test_does_not_flag_unknown_values_or_unknown_modules():
    code = """
    import torch
    from mypackage import build, load_weight

    model = torch.nn.Linear(2, 2)
    model.weight = load_weight()
    other = build()
    other.weight = torch.randn(2, 2)
    def set_weight(m, w):
        m.weight = w * 2
    """
    assert only(code, "GG202") == []


# -- fixes ---------------------------------------------------------------------------------


def test_copy_fix_wraps_in_no_grad():
    code = """
    import torch
    model = torch.nn.Linear(3, 2)
    model.weight = torch.randn(2, 3)
    """
    (fixed,) = assert_all_fixes_repair(code, "GG202")
    assert fixed.endswith("with torch.no_grad():\n    model.weight.copy_(torch.randn(2, 3))\n")
    (finding,) = only(code, "GG202")
    assert finding.fixes[0].safety.value == "unsafe"


def test_copy_fix_under_existing_no_grad_replaces_in_place():
    code = """
    from torch import nn, no_grad
    model = nn.Linear(3, 2)
    for _ in range(2):
        with no_grad():
            model.weight = model.weight - 0.1 * model.weight.grad
    """
    (fixed,) = assert_all_fixes_repair(code, "GG202")
    assert fixed.endswith(
        "    with no_grad():\n        model.weight.copy_(model.weight - 0.1 * model.weight.grad)\n"
    )


def test_copy_fix_uses_imported_no_grad_tabs_and_crlf():
    code = (
        "import torch as T\r\n"
        "model = T.nn.Linear(3, 2)\r\n"
        "def update(lr):\r\n"
        "\tmodel.weight = model.weight - lr * model.weight.grad  # manual SGD\r\n"
    )
    (fixed,) = assert_all_fixes_repair(code, "GG202")
    assert fixed.endswith(
        "\twith T.no_grad():\r\n"
        "\t\tmodel.weight.copy_(model.weight - lr * model.weight.grad)  # manual SGD\r\n"
    )


def test_no_copy_fix_when_line_is_shared_or_targets_are_chained():
    code = """
    import torch
    model = torch.nn.Linear(3, 2)
    model.weight = torch.randn(2, 3); x = 1
    w = model.bias = torch.zeros(2)
    """
    assert [f.fixes for f in only(code, "GG202")] == [(), ()]


def test_local_variable_fix_in_forward():
    code = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Mix(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.layer_weights = nn.Parameter(torch.ones(n))

        def forward(self, xs):
            self.layer_weights = F.softmax(self.layer_weights, 0)
            return (xs * self.layer_weights.unsqueeze(1)).sum(0)
    """
    (fixed,) = assert_all_fixes_repair(code, "GG202")
    assert "        layer_weights = F.softmax(self.layer_weights, 0)\n" in fixed
    assert "return (xs * layer_weights.unsqueeze(1)).sum(0)" in fixed
    (finding,) = only(code, "GG202")
    assert finding.fixes[0].title == (
        "Use a local variable `layer_weights` instead of `self.layer_weights`"
    )


def test_local_variable_fix_picks_a_free_name():
    code = """
    import torch
    import torch.nn as nn

    class Mix(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

        def forward(self, w):
            self.w = torch.sigmoid(self.w)
            return w * self.w
    """
    (fixed,) = assert_all_fixes_repair(code, "GG202")
    assert "w_value = torch.sigmoid(self.w)" in fixed
    assert "return w * w_value" in fixed


def test_no_local_variable_fix_inside_a_branch_of_forward():
    code = """
    import torch
    import torch.nn as nn

    class Mix(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

        def forward(self, x):
            if self.training:
                self.w = torch.sigmoid(self.w)
            return x * self.w
    """
    (finding,) = only(code, "GG202")
    assert finding.fixes == ()


def test_does_not_flag_after_the_parameter_was_unregistered():
    code = """
    import torch
    import torch.nn as nn

    def prune(module, mask):
        orig = module.weight
        del module._parameters["weight"]
        module.weight = orig * mask

    model = nn.Linear(2, 2)
    del model.weight
    model.weight = torch.randn(2, 2)
    other = nn.Linear(2, 2)
    other._parameters.pop("weight")
    other.weight = torch.randn(2, 2)
    """
    assert only(code, "GG202") == []


def test_flags_argument_of_a_helper_called_with_a_layer():
    code = """
    import torch
    from torch import nn


    def load_head(layer, rows, cols):
        layer.weight = torch.zeros(rows, cols)


    head = nn.Linear(4, 3)
    load_head(head, 3, 4)
    """
    assert lines_of(code, "GG202") == [7]
    assert_all_fixes_repair(code, "GG202")


def test_does_not_flag_helper_argument_called_with_a_plain_object():
    code = """
    import torch
    from types import SimpleNamespace


    def load_head(layer, rows, cols):
        layer.weight = torch.zeros(rows, cols)


    load_head(SimpleNamespace(), 3, 4)
    """
    assert only(code, "GG202") == []


def test_flags_head_replaced_earlier_on_a_model_from_a_library():
    code = """
    import torch
    import torchvision
    from torch import nn

    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Linear(model.fc.in_features, 10)
    model.fc.weight = torch.zeros(10, model.fc.in_features)
    """
    assert lines_of(code, "GG202") == [8]
    assert_all_fixes_repair(code, "GG202")


@pytest.mark.parametrize(
    "between",
    [
        "model = build()",  # the model itself was rebound: the head is unknown again
        "model.fc = make_head()",  # the head was replaced by something unknown
    ],
)
def test_does_not_flag_head_after_it_may_have_changed(between):
    code = f"""
    import torch
    from torch import nn

    model = build()
    model.fc = nn.Linear(512, 10)
    {between}
    model.fc.weight = torch.zeros(10, 512)
    """
    assert only(code, "GG202") == []


# -- issue 11: setattr with a name that runs over a layer's own parameter names -----------


def test_flags_weight_loading_loop_over_named_parameters():
    code = """
    import torch
    from torch import nn


    def load_numpy_weights(layer: nn.Linear, arrays):
        for name, param in layer.named_parameters():
            setattr(layer, name, torch.from_numpy(arrays[name]))
    """
    (finding,) = only(code, "GG202")
    assert finding.span.start.line == 7
    assert finding.message == (
        "`name` takes `'weight'`, a registered parameter of `layer`, so `setattr` with a "
        "plain tensor raises `TypeError: cannot assign '<tensor type>' as parameter "
        "'weight' (torch.nn.Parameter or None expected)`"
    )
    (fixed,) = assert_all_fixes_repair(code, "GG202")
    assert (
        "        with torch.no_grad():\n"
        "            getattr(layer, name).copy_(torch.from_numpy(arrays[name]))\n"
    ) in fixed


def test_flags_quantisation_helper_over_literal_names():
    code = """
    import torch
    from torch import nn


    def fake_quantize(module, bits=8):
        for name in ("weight", "bias"):
            w = getattr(module, name)
            scale = w.abs().max() / (2 ** (bits - 1) - 1)
            setattr(module, name, torch.round(w / scale) * scale)


    model = nn.Conv2d(3, 8, 3)
    fake_quantize(model)
    """
    (finding,) = only(code, "GG202")
    assert finding.span.start.line == 9
    assert "`name` takes `'weight'`, a registered parameter of `module`" in finding.message


def test_flags_loop_over_parameter_slots_in_a_model_method_and_a_literal_setattr():
    code = """
    import torch
    from torch import nn


    class Student(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 8)

        def copy_from(self, teacher_state, mask):
            for name, value in self.proj._parameters.items():
                setattr(self.proj, name, torch.tensor(teacher_state[name]) * mask)


    head = nn.Linear(4, 2)
    setattr(head, "weight", torch.zeros(2, 4))
    """
    findings = only(code, "GG202")
    assert [f.span.start.line for f in findings] == [12, 16]
    assert "`name` takes `'weight'`, a registered parameter of `self.proj`" in findings[0].message
    assert findings[1].message.startswith("`head.weight` is a registered parameter")
    fixed = assert_all_fixes_repair(code, "GG202")
    assert any('getattr(head, "weight").copy_(torch.zeros(2, 4))' in text for text in fixed)


def test_does_not_flag_setattr_loops_that_are_fine():
    code = """
    import torch
    from torch import nn


    def apply_masks(module, masks):
        for name in ["weight", "bias"]:
            orig = getattr(module, name)
            del module._parameters[name]
            module.register_parameter(name + "_orig", orig)
            setattr(module, name, orig * masks[name])


    def requantize(module):
        for name, param in module.named_parameters():
            setattr(module, name, nn.Parameter(torch.round(param * 127) / 127))


    def reset_stats(bn: nn.BatchNorm2d):
        for name in ("running_mean", "running_var"):
            setattr(bn, name, torch.zeros(bn.num_features))


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)


    net = Net()
    for name, param in net.named_parameters():
        setattr(net, name, param.detach() * 0)  # dotted names: plain attributes
    model = nn.Linear(4, 4)
    apply_masks(model, {})
    requantize(model)
    """
    assert only(code, "GG202") == []


def test_does_not_flag_setattr_when_the_module_or_names_are_unknown():
    code = """
    import torch
    from torch import nn


    def halve(module):
        for name, param in module.named_parameters():
            setattr(module, name, param.detach() / 2)


    def init_norms(m):
        if isinstance(m, nn.BatchNorm2d):
            for name, param in m.named_parameters():
                setattr(m, name, torch.ones_like(param))


    def load(layer: nn.Linear, names, arrays):
        for name in names:
            setattr(layer, name, torch.from_numpy(arrays[name]))


    model = nn.Sequential(nn.BatchNorm2d(3, affine=False))
    model.apply(halve)
    model.apply(init_norms)
    """
    assert only(code, "GG202") == []
