import pytest

from helpers import assert_all_fixes_repair, lines_of, only

# -- nn.Parameter(t).double() --------------------------------------------------------------


@pytest.mark.parametrize("method", ["double()", "to(device)", "cuda()", "float()", "half()"])
def test_flags_conversion_of_new_parameter(method):
    code = f"""
    import torch
    import torch.nn as nn

    device = torch.device("cpu")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3)).{method}
    """
    (finding,) = only(code, "GG203")
    assert finding.span.start.line == 9
    assert "plain non-leaf tensor" in finding.message
    assert "`self.w` is not registered" in finding.message


def test_conversion_fix_moves_the_call_inside_and_is_safe():
    code = """
    import torch
    from torch import nn as tnn

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.w = tnn.Parameter(torch.randn(3), requires_grad=True).double()
            self.v = tnn.Parameter(torch.randn(3) * 0.1).to("cpu", non_blocking=True)
    """
    fixed = assert_all_fixes_repair(code, "GG203")
    assert "self.w = tnn.Parameter(torch.randn(3).double(), requires_grad=True)\n" in fixed[0]
    assert (
        'self.v = tnn.Parameter((torch.randn(3) * 0.1).to("cpu", non_blocking=True))\n'
        in (fixed[1])
    )
    assert all(f.fixes[0].safety.value == "safe" for f in only(code, "GG203"))


def test_no_conversion_fix_without_data_argument():
    code = """
    import torch.nn as nn
    class Net(nn.Module):
        def __init__(self, **kw):
            super().__init__()
            self.w = nn.Parameter(**kw).double()
    """
    (finding,) = only(code, "GG203")
    assert finding.fixes == ()


# -- plain containers ----------------------------------------------------------------------


def test_flags_list_of_layers_and_wraps_it():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(4, 4), nn.Linear(4, 4)]

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x + len(self.layers) + self.layers[0](x)
    """
    (finding,) = only(code, "GG203")
    assert finding.span.start.line == 7
    assert "plain list" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG203")
    assert "self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])" in fixed


def test_flags_comprehension_tuple_and_parameter_list():
    code = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.blocks = [nn.Conv2d(3, 3, 3) for _ in range(n)]
            self.pair = nn.Linear(2, 2), nn.Linear(2, 2)
            self.weights = [nn.Parameter(torch.randn(3)) for _ in range(n)]
    """
    assert lines_of(code, "GG203") == [8, 9, 10]
    fixed = assert_all_fixes_repair(code, "GG203")
    assert "self.blocks = nn.ModuleList([nn.Conv2d(3, 3, 3) for _ in range(n)])" in fixed[0]
    assert "self.pair = nn.ModuleList((nn.Linear(2, 2), nn.Linear(2, 2)))" in fixed[1]
    assert (
        "self.weights = nn.ParameterList([nn.Parameter(torch.randn(3)) for _ in range(n)])"
        in (fixed[2])
    )


def test_flags_empty_list_filled_later_reported_at_assignment():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.hidden = []
            for a, b in zip(sizes, sizes[1:]):
                layer = nn.Linear(a, b)
                self.hidden.append(layer)

        def forward(self, x):
            for layer in self.hidden:
                x = torch.relu(layer(x))
            return x
    """
    (finding,) = only(code, "GG203")
    assert finding.span.start.line == 7
    (fixed,) = assert_all_fixes_repair(code, "GG203")
    assert "self.hidden = nn.ModuleList()\n" in fixed


def test_flags_dict_of_layers_with_string_keys():
    code = """
    import torch.nn as nn

    class Heads(nn.Module):
        def __init__(self, names):
            super().__init__()
            self.heads = {}
            for name in names:
                self.heads[f"{name}"] = nn.Linear(4, 1)
            self.extra = {"a": nn.Linear(4, 1), "b": nn.Linear(4, 2)}

        def forward(self, x):
            return {k: head(x) for k, head in self.heads.items()}
    """
    assert lines_of(code, "GG203") == [7, 10]
    fixed = assert_all_fixes_repair(code, "GG203")
    assert "self.heads = nn.ModuleDict()\n" in fixed[0]
    assert 'self.extra = nn.ModuleDict({"a": nn.Linear(4, 1), "b": nn.Linear(4, 2)})' in fixed[1]


def test_flags_local_list_stored_on_module():
    code = """
    import torch
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            layers = []
            for _ in range(3):
                layers.append(torch.nn.Linear(2, 2))
            self.layers = layers
    """
    (finding,) = only(code, "GG203")
    assert finding.span.start.line == 8
    (fixed,) = assert_all_fixes_repair(code, "GG203")
    assert "self.layers = torch.nn.ModuleList(layers)" in fixed


def test_wrapper_fix_uses_directly_imported_name():
    code = """
    from torch.nn import Module, Linear, ModuleList
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.layers = [Linear(2, 2)]
    """
    (fixed,) = assert_all_fixes_repair(code, "GG203")
    assert "self.layers = ModuleList([Linear(2, 2)])" in fixed


def test_no_wrapper_fix_when_a_use_is_not_supported_or_keys_are_not_strings():
    code = """
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]
            self.layers.reverse()
            self.by_index = {0: nn.Linear(2, 2)}
            self.mixed = [nn.Linear(2, 2), nn.Parameter(None)]
    """
    assert [f.fixes for f in only(code, "GG203")] == [(), (), ()]


def test_no_fix_when_torch_nn_has_no_name_in_file():
    code = """
    from torch.nn import Module, Linear
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.layers = [Linear(2, 2)]
    """
    (finding,) = only(code, "GG203")
    assert finding.fixes == ()


# -- nn.Parameter in forward ---------------------------------------------------------------


def test_flags_parameter_created_in_forward_and_moves_it_to_init():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.dim = dim
            self.fc = nn.Linear(dim, dim)

        def forward(self, x):
            self.scale = nn.Parameter(torch.ones(self.dim))
            return self.fc(x) * self.scale
    """
    (finding,) = only(code, "GG203")
    assert finding.span.start.line == 11
    assert "every time `forward` runs" in finding.message
    (fixed,) = assert_all_fixes_repair(code, "GG203")
    assert fixed.endswith(
        "        self.fc = nn.Linear(dim, dim)\n"
        "        self.scale = nn.Parameter(torch.ones(self.dim))\n"
        "\n"
        "    def forward(self, x):\n"
        "        return self.fc(x) * self.scale\n"
    )


def test_no_move_fix_when_creation_reads_forward_locals():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()

        def forward(self, x):
            self.scale = nn.Parameter(torch.ones(x.shape[1]))
            return x * self.scale
    """
    (finding,) = only(code, "GG203")
    assert finding.fixes == ()


def test_move_fix_when_init_ends_file_without_newline_and_forward_first():
    code = (
        "import torch\n"
        "from torch import nn\n"
        "class Net(nn.Module):\n"
        "    def forward(self, x):\n"
        "        if x.sum() > 0:\n"
        "            self.bias = nn.Parameter(torch.zeros(2))\n"
        "        return x\n"
        "    def __init__(self):\n"
        "        super().__init__()"
    )
    (fixed,) = assert_all_fixes_repair(code, "GG203")
    assert fixed == (
        "import torch\n"
        "from torch import nn\n"
        "class Net(nn.Module):\n"
        "    def forward(self, x):\n"
        "        if x.sum() > 0:\n"
        "            pass\n"
        "        return x\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.bias = nn.Parameter(torch.zeros(2))"
    )


# -- what it must not flag -----------------------------------------------------------------


def test_does_not_flag_registered_containers_and_correct_parameters():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(n)])
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
            self.ws = nn.ParameterList([nn.Parameter(torch.randn(2))])
            self.w = nn.Parameter(torch.randn(3).double())
            self.sizes = [2, 4, 8]
            self.names = {"a": 1}
            blocks = []
            for _ in range(n):
                blocks.append(nn.Linear(2, 2))
            self.net = nn.Sequential(*blocks)
            self.parts = []
            for _ in range(n):
                self.parts.append(nn.Linear(2, 2))
            self.seq = nn.Sequential(*self.parts)
            self.refs = [self.net, self.seq]

        def forward(self, x):
            if not hasattr(self, "lazy"):
                self.lazy = nn.Parameter(torch.ones(1))
            return self.net(x)
    """
    assert only(code, "GG203") == []


def test_does_not_flag_outside_modules_or_dynamic_registration():
    code = """
    import torch
    import torch.nn as nn

    class Config:
        def __init__(self):
            self.layers = [nn.Linear(2, 2)]
            self.w = nn.Parameter(torch.randn(3)).double()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]
            for i, layer in enumerate(self.layers):
                self.add_module(f"layer{i}", layer)

    layers = [nn.Linear(2, 2)]
    """
    assert only(code, "GG203") == []


def test_parameter_dict_and_empty_list_call_are_wrapped():
    code = """
    import torch
    import torch.nn

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = {"a": torch.nn.Parameter(torch.ones(1))}
            self.extra = list()
            self.extra.append(torch.nn.Linear(2, 2))
    """
    fixed = assert_all_fixes_repair(code, "GG203")
    assert (
        'self.scales = torch.nn.ParameterDict({"a": torch.nn.Parameter(torch.ones(1))})'
        in (fixed[0])
    )
    assert "self.extra = torch.nn.ModuleList()\n" in fixed[1]


def test_no_move_fix_when_init_already_sets_the_attribute_or_is_missing():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = None

        def forward(self, x):
            self.scale = nn.Parameter(torch.ones(1))
            return x * self.scale

    class NoInit(nn.Module):
        def forward(self, x):
            self.scale = nn.Parameter(torch.ones(1))
            return x * self.scale
    """
    findings = only(code, "GG203")
    assert [f.span.start.line for f in findings] == [10, 15]
    assert [f.fixes for f in findings] == [(), ()]


def test_does_not_flag_lazy_creation_guarded_by_none_check():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = None

        def forward(self, x):
            if self.scale is None:
                self.scale = nn.Parameter(torch.ones(x.shape[-1]))
            return x * self.scale
    """
    assert only(code, "GG203") == []


def test_conversion_fix_title():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3)).cuda()
    """
    (finding,) = only(code, "GG203")
    assert [fix.title for fix in finding.fixes] == ["Move `.cuda()` inside the Parameter"]


def test_a_fixed_name_registration_does_not_hide_a_plain_list():
    code = """
    import torch
    from torch import nn


    class Tower(nn.Module):
        def __init__(self, widths=(4, 8, 16)):
            super().__init__()
            self.register_parameter("shift", None)
            self.register_buffer("count", torch.zeros(1))
            setattr(self, "label", "tower")
            self.levels = []
            for a, b in zip(widths[:-1], widths[1:]):
                self.levels.append(nn.Linear(a, b))

        def forward(self, x):
            for level in self.levels:
                x = level(x)
            return x
    """
    assert lines_of(code, "GG203") == [12]
    assert_all_fixes_repair(code, "GG203")


def test_a_computed_name_registration_still_counts_as_registering_items():
    code = """
    from torch import nn


    class Tower(nn.Module):
        def __init__(self, n=3):
            super().__init__()
            self.levels = []
            for i in range(n):
                level = nn.Linear(4, 4)
                self.add_module("level" + str(i), level)
                self.levels.append(level)
    """
    assert only(code, "GG203") == []


@pytest.mark.parametrize(
    ("value", "wrapped"),
    [
        ("dict(cls=nn.Linear(8, 3), box=nn.Linear(8, 4))", "nn.ModuleDict(dict(cls="),
        ("tuple(nn.Linear(8, 8) for _ in range(3))", "nn.ModuleList(tuple(nn.Linear"),
        ("list(nn.Linear(8, 8) for _ in range(3))", "nn.ModuleList(list(nn.Linear"),
    ],
)
def test_flags_containers_built_by_calls(value, wrapped):
    code = f"""
    import torch.nn as nn


    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = {value}
    """
    assert lines_of(code, "GG203") == [8]
    (fixed,) = assert_all_fixes_repair(code, "GG203")
    assert wrapped in fixed


def test_does_not_flag_containers_built_by_calls_of_plain_values():
    code = """
    import torch.nn as nn


    class Heads(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.dims = dict(cls=3, box=4)
            self.widths = tuple(s * 2 for s in sizes)
            self.body = nn.Linear(8, 8)
    """
    assert only(code, "GG203") == []


@pytest.mark.parametrize(
    "registration",
    ["attach(self.backbone, name, wrapper)", "self.last_wrapper = wrapper"],
)
def test_does_not_flag_an_index_of_items_registered_elsewhere(registration):
    code = f"""
    from torch import nn


    class Adapter(nn.Module):
        def __init__(self, backbone, names):
            super().__init__()
            self.backbone = backbone
            self.wrappers = {{}}
            for name in names:
                wrapper = nn.Linear(8, 8)
                {registration}
                self.wrappers[name] = wrapper
    """
    assert only(code, "GG203") == []


def test_still_flags_items_that_only_get_initialised():
    code = """
    from torch import nn


    class Stack(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.levels = []
            for _ in range(n):
                level = nn.Linear(8, 8)
                nn.init.zeros_(level.bias)
                self.levels.append(level)
    """
    assert lines_of(code, "GG203") == [8]


def test_no_conversion_fix_when_the_attribute_is_assigned_again():
    """Registering the Parameter would make forward's plain-tensor assignment raise."""
    code = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Mix(nn.Module):
        def __init__(self):
            super().__init__()
            self.mix = nn.Parameter(torch.ones(3)).double()

        def forward(self, x):
            self.mix = F.softmax(self.mix, 0)
            return x * self.mix.sum()
    """
    (finding,) = only(code, "GG203")
    assert finding.span.start.line == 8 and finding.fixes == ()


# -- issue 11: a dict of dicts of nn.Parameter ------------------------------------------------


def test_flags_dict_of_dicts_of_parameters_built_by_a_comprehension():
    code = """
    import torch
    from torch import nn


    class MultiTaskHeads(nn.Module):
        def __init__(self, tasks, dim):
            super().__init__()
            self.backbone = nn.Linear(dim, dim)
            self.heads = {
                task: {"w": nn.Parameter(torch.randn(dim, n)), "b": nn.Parameter(torch.zeros(n))}
                for task, n in tasks.items()
            }

        def forward(self, x, task):
            head = self.heads[task]
            return self.backbone(x) @ head["w"] + head["b"]
    """
    (finding,) = only(code, "GG203")
    assert finding.span.start.line == 9
    assert finding.message == (
        "`self.heads` is a plain dict of dicts, so the parameters it holds are not "
        "registered: `parameters()`, `.to()` and the optimizer never see them, and they "
        "are never trained"
    )
    assert finding.fixes == ()


def test_flags_dict_of_dicts_filled_in_loops_and_through_a_local():
    code = """
    import torch
    from torch import nn


    class Adapters(nn.Module):
        def __init__(self, layers, rank):
            super().__init__()
            self.adapters = {}
            for name, dim in layers.items():
                self.adapters[name] = {}
                self.adapters[name]["down"] = nn.Parameter(torch.randn(dim, rank) * 0.01)
                self.adapters[name]["up"] = nn.Parameter(torch.zeros(rank, dim))


    class Experts(nn.Module):
        def __init__(self, groups, dim):
            super().__init__()
            experts = {}
            for group, count in groups.items():
                experts[group] = {f"e{i}": nn.Parameter(torch.randn(dim)) for i in range(count)}
            self.experts = experts
    """
    findings = only(code, "GG203")
    assert [f.span.start.line for f in findings] == [8, 21]
    assert "`self.adapters` is a plain dict of dicts" in findings[0].message
    assert "`self.experts` is a plain dict of dicts" in findings[1].message


def test_does_not_flag_registered_or_parameter_free_nested_containers():
    code = """
    import torch
    from torch import nn


    class Heads(nn.Module):
        def __init__(self, tasks, dim):
            super().__init__()
            self.heads = nn.ModuleDict(
                {t: nn.ParameterDict({"w": nn.Parameter(torch.randn(dim))}) for t in tasks}
            )
            self.schedule = {"encoder": {"lr": 1e-4, "decay": 0.01}, "head": {"lr": 1e-3}}
            self.stats = {"train": {"mean": torch.zeros(dim)}}


    class Registered(nn.Module):
        def __init__(self, tasks, dim):
            super().__init__()
            self.table = {t: {"w": nn.Parameter(torch.randn(dim))} for t in tasks}
            for task, slots in self.table.items():
                for slot, parameter in slots.items():
                    self.register_parameter(f"{task}_{slot}", parameter)
    """
    assert only(code, "GG203") == []
