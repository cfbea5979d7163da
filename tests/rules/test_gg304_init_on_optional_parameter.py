import pytest

from helpers import assert_all_fixes_repair, lines_of, only

# -- layer built without the parameter ---------------------------------------------------


@pytest.mark.parametrize(
    ("build", "use", "attribute"),
    [
        ("nn.Linear(3, 2, bias=False)", "nn.init.zeros_(m.bias)", "zero_"),
        ("nn.Conv2d(3, 8, 3, bias=False)", "nn.init.constant_(m.bias, 0)", "fill_"),
        ("nn.Linear(3, 2, bias=False)", "m.bias.data.zero_()", "data"),
        ("nn.Conv2d(3, 8, 3, bias=False)", "m.bias.zero_()", "zero_"),
        ("nn.Linear(3, 2, bias=False)", "m.bias.fill_(0.1)", "fill_"),
        ("nn.BatchNorm2d(8, affine=False)", "m.weight.data.fill_(1)", "data"),
        ("nn.LayerNorm(8, elementwise_affine=False)", "m.bias.data.zero_()", "data"),
        ("nn.Linear(3, 2, bias=False)", "nn.init.uniform_(m.bias, -0.1, 0.1)", "uniform_"),
    ],
)
def test_flags_layer_built_without_parameter(build, use, attribute):
    code = f"import torch.nn as nn\nm = {build}\n{use}\n"
    (finding,) = only(code, "GG304")
    assert finding.span.start.line == 2
    assert finding.span.start.column == 0
    assert f"'NoneType' object has no attribute '{attribute}'" in finding.message
    assert finding.related[0].span.start.line == 1


def test_flags_submodule_built_without_bias_in_a_class():
    code = """
    import torch
    from torch import nn as tnn

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv = tnn.Conv2d(3, 8, 3, bias=False)
            self.bn = tnn.BatchNorm2d(8)
            self.reset_parameters()

        def reset_parameters(self):
            torch.nn.init.kaiming_normal_(self.conv.weight)
            torch.nn.init.zeros_(self.conv.bias)
            torch.nn.init.zeros_(self.bn.bias)
    """
    assert lines_of(code, "GG304") == [14]


def test_binding_in_the_same_function_wins_over_other_functions():
    code = """
    from torch import nn

    def a():
        m = nn.Linear(3, 2)
        nn.init.zeros_(m.bias)

    def b():
        m = nn.Linear(3, 2, bias=False)
        nn.init.zeros_(m.bias)
    """
    assert lines_of(code, "GG304") == [10]


def test_hasattr_is_not_a_guard_for_a_visible_constructor():
    code = """
    from torch import nn
    m = nn.Linear(3, 2, bias=False)
    if hasattr(m, "bias"):
        nn.init.zeros_(m.bias)
    """
    assert lines_of(code, "GG304") == [5]


# -- init functions guarded only by hasattr -----------------------------------------------


def test_apply_function_guarded_only_by_hasattr():
    code = """
    import torch.nn as nn

    def init_weights(m):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
            if hasattr(m, "bias"):
                nn.init.zeros_(m.bias)

    model = build_model()
    model.apply(init_weights)
    """
    (finding,) = only(code, "GG304")
    assert finding.span.start.line == 7
    assert '`hasattr(m, "bias")` is True' in finding.message
    assert finding.related[0].span.start.line == 6


def test_method_applied_with_self_apply_and_modules_loop():
    code = """
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)
            self.apply(self._init_weights)
            for name, mod in self.named_modules():
                if hasattr(mod, "bias") and isinstance(mod, nn.Linear):
                    mod.bias.data.zero_()

        def _init_weights(self, module):
            if isinstance(module, nn.Linear) and hasattr(module, "bias"):
                module.bias.data.fill_(0.01)
    """
    assert lines_of(code, "GG304") == [11, 15]


def test_helper_called_from_a_modules_loop_guarded_only_by_hasattr():
    """mmdetection#91: `xavier_init(m)` for every conv of a neck built with
    `bias=not with_norm`; the helper's `hasattr` is True when the bias is None."""
    code = """
    from torch import nn

    def xavier_init(module, gain=1, bias=0):
        nn.init.xavier_uniform_(module.weight, gain=gain)
        if hasattr(module, "bias"):
            nn.init.constant_(module.bias, bias)

    class Neck(nn.Module):
        def __init__(self, normalize=None):
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 3, bias=normalize is None)

        def init_weights(self):
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    xavier_init(m)
    """
    (finding,) = only(code, "GG304")
    assert finding.span.start.line == 6
    assert '`hasattr(module, "bias")` is True' in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG304")
    # no type test in the helper: `module` may be a layer without the attribute at all
    assert 'if getattr(module, "bias", None) is not None:' in fixed


@pytest.mark.parametrize(
    "caller",
    [
        # a loop over something that is not the model's modules: no layer dispatch
        "for m in [net.conv]:\n    xavier_init(m)",
        # the layer is not the helper's first argument
        "for m in net.modules():\n    xavier_init(0.5, m)",
    ],
)
def test_helpers_not_handed_each_layer_are_not_dispatches(caller):
    code = (
        "from torch import nn\n\n"
        "def xavier_init(module, gain=1):\n"
        "    if hasattr(module, 'bias'):\n"
        "        nn.init.constant_(module.bias, 0)\n\n"
        "net = nn.Sequential()\n"
        "net.conv = nn.Conv2d(3, 3, 3, bias=False)\n" + caller + "\n"
    )
    assert only(code, "GG304") == []


def test_helper_from_a_modules_loop_with_a_none_test_is_silent():
    code = """
    from torch import nn

    def xavier_init(module, bias=0):
        if hasattr(module, "bias") and module.bias is not None:
            nn.init.constant_(module.bias, bias)

    net = nn.Sequential(nn.Conv2d(3, 3, 3, bias=False))
    for m in net.modules():
        xavier_init(m)
    """
    assert only(code, "GG304") == []


def test_helper_whose_type_dispatch_is_in_the_callers_modules_loop():
    """mmcv#153: `constant_init(m, 1)` for every BatchNorm of a backbone whose norm
    layers have no affine parameters; the `isinstance` test is in the caller's loop."""
    code = """
    from torch import nn

    def constant_init(module, val):
        nn.init.constant_(module.weight, val)

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm2d(8, affine=False)

        def init_weights(self):
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    constant_init(m, 1)
    """
    (finding,) = only(code, "GG304")
    assert finding.span.start.line == 4
    assert "this file builds `BatchNorm2d` with `affine=False` (line 10)" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG304")
    assert "if module.weight is not None:" in fixed


@pytest.mark.parametrize(
    "loop",
    [
        # no type test around the call: the helper may get any layer
        "for m in net.modules():\n    constant_init(m, 1)",
        # the test sends it Linear layers, which keep their weight
        "for m in net.modules():\n    if isinstance(m, nn.Linear):\n        constant_init(m, 1)",
    ],
)
def test_caller_loops_that_do_not_send_a_layer_without_weight_are_silent(loop):
    code = (
        "from torch import nn\n\n"
        "def constant_init(module, val):\n"
        "    nn.init.constant_(module.weight, val)\n\n"
        "net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm2d(3, affine=False))\n" + loop + "\n"
    )
    assert only(code, "GG304") == []


# -- unguarded init functions when the file builds a layer without the parameter -----------


def test_unguarded_dispatch_on_a_type_built_without_bias():
    code = """
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, bias=False)
            self.bn = nn.BatchNorm2d(8)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
    """
    (finding,) = only(code, "GG304")
    assert finding.span.start.line == 11
    assert "builds `Conv2d` with `bias=False` (line 7)" in finding.message


def test_dcgan_style_classname_dispatch():
    code = """
    import torch.nn as nn

    netG = nn.Sequential(nn.ConvTranspose2d(100, 64, 4, bias=False), nn.BatchNorm2d(64))

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find('Conv') != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
            nn.init.constant_(m.bias.data, 0)
        elif classname.find('BatchNorm') != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    netG.apply(weights_init)
    """
    assert lines_of(code, "GG304") == [10]


# -- must not flag -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        # the guard the catalogue asks for
        "m = nn.Linear(3, 2, bias=False)\nif m.bias is not None:\n    nn.init.zeros_(m.bias)\n",
        "def init(m):\n    if isinstance(m, nn.Linear) and hasattr(m, 'bias') and "
        "m.bias is not None:\n        nn.init.zeros_(m.bias)\nmodel.apply(init)\n",
        "def init(m):\n    if hasattr(m, 'bias') and m.bias is not None:\n"
        "        m.bias.data.zero_()\nmodel.apply(init)\n",
        "for m in model.modules():\n    if getattr(m, 'bias', None) is not None:\n"
        "        nn.init.zeros_(m.bias)\n",
        "for m in model.modules():\n    if m.bias is None:\n        continue\n"
        "    nn.init.zeros_(m.bias)\n",
        # layers that have the parameter
        "m = nn.Linear(3, 2)\nnn.init.zeros_(m.bias)\n",
        "m = nn.Linear(3, 2, bias=True)\nm.bias.data.zero_()\n",
        "m = nn.BatchNorm2d(8)\nnn.init.constant_(m.weight, 1)\n",
        "m = nn.Linear(3, 2, bias=use_bias)\nnn.init.zeros_(m.weight)\n",
        # weight is never optional for Linear
        "m = nn.Linear(3, 2, bias=False)\nnn.init.xavier_uniform_(m.weight)\n",
        # the bias is set again before the init
        "m = nn.Linear(3, 2, bias=False)\nm.bias = nn.Parameter(torch.zeros(2))\n"
        "nn.init.zeros_(m.bias)\n",
        # rebinding to a layer with a bias
        "m = nn.Linear(3, 2, bias=False)\nm = nn.Linear(3, 2)\nnn.init.zeros_(m.bias)\n",
        # torchvision resnet style: conv without bias, BatchNorm branch inits its bias
        "self_conv = nn.Conv2d(3, 8, 3, bias=False)\nfor m in model.modules():\n"
        "    if isinstance(m, nn.Conv2d):\n        nn.init.kaiming_normal_(m.weight)\n"
        "    elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):\n"
        "        nn.init.constant_(m.weight, 1)\n        nn.init.constant_(m.bias, 0)\n",
        # unguarded init function, but no layer without bias in this file
        "def init(m):\n    if isinstance(m, nn.Linear):\n        nn.init.zeros_(m.bias)\n"
        "model.apply(init)\n",
        # hasattr on weight with no affine=False layer in the file
        "def init(m):\n    if hasattr(m, 'weight'):\n        nn.init.normal_(m.weight)\n"
        "model.apply(init)\n",
        # not an init function (never applied), and not a module from this file
        "def helper(m):\n    if hasattr(m, 'bias'):\n        nn.init.zeros_(m.bias)\n",
        # the same name bound to a layer without bias in another function only
        "def a():\n    m = nn.Linear(3, 2, bias=False)\n    return m\n"
        "def b():\n    m = nn.Linear(3, 2)\n    nn.init.zeros_(m.bias)\n",
        # a layer built elsewhere
        "m = make_layer(bias=False)\nnn.init.zeros_(m.bias)\n",
        # a custom class whose `bias` flag means something else
        "m = MyLayer(bias=False)\nm.bias.zero_()\n",
    ],
)
def test_does_not_flag(code):
    assert only("import torch\nimport torch.nn as nn\n" + code, "GG304") == []


def test_engine_does_not_raise_on_odd_shapes():
    code = """
    import torch.nn as nn
    nn.Linear(2, 2, bias=False).bias.zero_()
    nn.init.zeros_()
    nn.init.zeros_(*xs)
    f()(bias=False)
    x.apply()
    x.apply(lambda m: m.bias.zero_())
    for (m, *rest) in model.named_modules():
        if hasattr(m, "bias"):
            m.bias.zero_()
    """
    only(code, "GG304")


# -- fixes ----------------------------------------------------------------------------------


def test_fix_replaces_hasattr_after_isinstance():
    code = """
    import torch.nn as nn

    def init_weights(m):
        if isinstance(m, nn.Linear) and hasattr(m, "bias"):
            nn.init.zeros_(m.bias)

    model.apply(init_weights)
    """
    (finding,) = only(code, "GG304")
    (fix,) = finding.fixes
    assert fix.is_safe
    assert fix.title == 'Replace `hasattr(m, "bias")` with `m.bias is not None`'
    (fixed,) = assert_all_fixes_repair(code, "GG304")
    assert "if isinstance(m, nn.Linear) and m.bias is not None:" in fixed


def test_fix_replaces_bare_hasattr_with_getattr():
    code = """
    import torch.nn as nn

    for m in model.modules():
        if hasattr(m, "bias"):
            nn.init.zeros_(m.bias)
    """
    (fixed,) = assert_all_fixes_repair(code, "GG304")
    assert 'if getattr(m, "bias", None) is not None:' in fixed


def test_fix_wraps_an_unguarded_call():
    code = """
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, bias=False)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.zeros_(m.bias)  # start at zero
    """
    (finding,) = only(code, "GG304")
    assert finding.fixes[0].title == "Wrap in `if m.bias is not None:`"
    (fixed,) = assert_all_fixes_repair(code, "GG304")
    assert (
        "                if m.bias is not None:\n"
        "                    nn.init.zeros_(m.bias)  # start at zero\n" in fixed
    )


def test_no_wrap_when_the_call_is_part_of_an_expression():
    code = "import torch.nn as nn\nm = nn.Linear(2, 2, bias=False)\nb = nn.init.zeros_(m.bias)\n"
    (finding,) = only(code, "GG304")
    assert finding.fixes == ()


@pytest.mark.parametrize(
    ("build", "use", "flag"),
    [
        ("nn.Linear(3, 2, False)", "nn.init.zeros_(m.bias)", "bias=False"),
        ("nn.Conv2d(3, 8, 3, 1, 0, 1, 1, False)", "m.bias.data.zero_()", "bias=False"),
        ("nn.GroupNorm(2, 8, 1e-5, False)", "nn.init.ones_(m.weight)", "affine=False"),
        ("nn.LayerNorm(8, bias=False)", "nn.init.zeros_(m.bias)", "bias=False"),
        (
            "nn.RMSNorm(8, elementwise_affine=False)",
            "nn.init.ones_(m.weight)",
            "elementwise_affine",
        ),
        ("nn.InstanceNorm2d(8)", "nn.init.constant_(m.weight, 1)", "affine=False (its default)"),
    ],
)
def test_positional_flags_and_defaults(build, use, flag):
    code = f"import torch.nn as nn\nm = {build}\n{use}\n"
    (finding,) = only(code, "GG304")
    assert flag in finding.message


@pytest.mark.parametrize(
    "code",
    [
        "m = nn.InstanceNorm2d(8, affine=True)\nnn.init.constant_(m.weight, 1)\n",
        "m = nn.InstanceNorm2d(8, 1e-5, 0.1, True)\nnn.init.constant_(m.weight, 1)\n",
        "m = nn.Linear(3, 2, True)\nnn.init.zeros_(m.bias)\n",
        "m = nn.LayerNorm(8, 1e-5, True)\nnn.init.zeros_(m.bias)\n",
        # MultiheadAttention(bias=False) leaves `in_proj_bias` None; it has no `bias`
        "m = nn.MultiheadAttention(8, 2, bias=False)\nnn.init.zeros_(m.in_proj_weight)\n",
        "m = nn.MultiheadAttention(8, 2, bias=False)\nnn.init.zeros_(m.out_proj.bias)\n",
    ],
)
def test_layers_that_keep_the_parameter_are_not_flagged(code):
    assert only("import torch.nn as nn\n" + code, "GG304") == []


@pytest.mark.parametrize(
    "guard",
    [
        "present(m.bias)",
        "isinstance(m, nn.Linear) and present(m.bias)",
        "torch.is_tensor(m.bias)",
        "isinstance(m.bias, torch.Tensor)",
    ],
)
def test_a_predicate_call_on_the_parameter_is_a_guard(guard):
    code = f"""
    import torch
    from torch import nn


    def present(value):
        return value is not None


    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(16, 16, bias=False)
            self.out = nn.Linear(16, 4)
            self.apply(self.init_weights)

        @staticmethod
        def init_weights(m):
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
                if {guard}:
                    nn.init.constant_(m.bias, 0)
    """
    assert only(code, "GG304") == []


def test_a_predicate_on_the_owner_is_no_guard():
    code = """
    import torch
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.Linear(4, 2))
    for m in model.modules():
        if isinstance(m, nn.Linear) and callable(m):
            nn.init.zeros_(m.bias)
    """
    assert lines_of(code, "GG304") == [8]
