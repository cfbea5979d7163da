import pytest

from gradguard.engine import analyze
from gradguard.source import apply_edits
from helpers import apply_fix, assert_all_fixes_repair, lines_of, only

# -- what it flags -------------------------------------------------------------------------


def test_flags_script_assignment_with_truthful_message():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.weight = None
    optimizer.zero_grad()
    """
    (finding,) = only(code, "GG201")
    assert finding.span.start.line == 6
    assert (finding.span.start.column, finding.span.end.column) == (0, len("model.weight = None"))
    message = finding.message
    assert "succeeds" in message
    assert "next forward raises `TypeError`" in message
    assert "still steps the orphaned Parameter" in message
    assert "`state_dict()`" in message
    assert "`optimizer.zero_grad()` does not fail" in message


def test_flags_submodule_weight_in_forward_of_class():
    code = """
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            y = self.fc(x)
            self.fc.weight = None
            return y
    """
    (finding,) = only(code, "GG201")
    assert finding.span.start.line == 10
    assert "`self.fc.weight`" in finding.message


@pytest.mark.parametrize(
    "statement",
    [
        'setattr(model, "weight", None)',
        'model.register_parameter("weight", None)',
        "model.weight: None = None",
    ],
)
def test_flags_other_ways_to_write_none(statement):
    code = f"""
    import torch
    model = torch.nn.Conv2d(3, 8, 3)
    {statement}
    """
    (finding,) = only(code, "GG201")
    assert finding.span.start.line == 3
    assert "succeeds" in finding.message


def test_flags_del_with_attribute_error():
    code = """
    from torch.nn import Linear as L
    model = L(3, 2)
    del model.weight
    """
    (finding,) = only(code, "GG201")
    assert finding.span.start.line == 3
    assert "`AttributeError: 'Linear' object has no attribute 'weight'`" in finding.message
    assert "`optimizer.zero_grad()` does not fail" in finding.message


def test_flags_data_none_with_type_error():
    code = """
    import torch.nn as tnn
    model = tnn.Linear(3, 2)
    model.weight.data = None
    """
    (finding,) = only(code, "GG201")
    assert "Variable data has to be a tensor, but got NoneType" in finding.message


def test_bias_message_says_the_layer_runs_without_it():
    code = """
    import torch
    model = torch.nn.Linear(3, 2)
    model.bias = None
    """
    (finding,) = only(code, "GG201")
    assert "silently runs without it" in finding.message
    assert "TypeError" not in finding.message


def test_flags_in_any_branch_of_a_training_loop():
    code = """
    import torch
    import torch.optim as optim
    from torch import nn

    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    for step in range(10):
        x = torch.randn(4, 3)
        if x.mean() > 0:
            loss = model(x).sum()
        else:
            model.weight = None
        opt.zero_grad()
    """
    assert lines_of(code, "GG201") == [13]


def test_flags_parameter_of_class_in_file_and_of_factory():
    code = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))
            self.head = nn.Linear(2, 2)

        def forward(self, x):
            return self.head(x) * self.scale

    def build():
        return nn.Linear(2, 2)

    model = Net().to("cpu")
    model.scale = None
    model.head.bias = None
    other = build()
    other.weight = None
    """
    assert lines_of(code, "GG201") == [18, 19, 21]


def test_flags_parameter_registered_on_variable_and_isinstance_narrowing():
    code = """
    import torch
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(2, 2))
    model.register_parameter("temperature", nn.Parameter(torch.ones(1)))
    model.temperature = None
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            m.weight = None
    """
    assert lines_of(code, "GG201") == [7, 10]


def test_flags_init_function_whose_isinstance_test_is_one_operand_of_an_and():
    code = """
    import torch.nn as nn

    def init_weights(m):
        if isinstance(m, nn.Linear) and m.bias is not None:
            m.bias = None
        if m.weight is not None and isinstance(m, nn.Dropout):
            m.weight = None

    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))
    model.apply(init_weights)
    """
    assert lines_of(code, "GG201") == [6]


def test_flags_self_bias_outside_init():
    code = """
    import torch
    import torch.nn as nn

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(2, 2))
            self.bias = nn.Parameter(torch.zeros(2))

        def drop_bias(self):
            self.bias = None
            self.register_parameter("bias", None)
    """
    assert lines_of(code, "GG201") == [12, 13]


# -- what it must not flag -----------------------------------------------------------------


def test_does_not_flag_idiomatic_optional_parameter_in_init():
    code = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class MyLinear(nn.Module):
        def __init__(self, bias=True):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(2, 3))
            if bias:
                self.bias = nn.Parameter(torch.zeros(2))
            else:
                self.bias = None

        def forward(self, x):
            return F.linear(x, self.weight, self.bias)

    class Other(nn.Module):
        def __init__(self, bias=False):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(2, 3))
            if bias:
                self.bias = nn.Parameter(torch.zeros(2))
            else:
                self.register_parameter("bias", None)
            self.fc = nn.Linear(2, 2)
            self.fc.bias = None
    """
    assert only(code, "GG201") == []


def test_does_not_flag_plain_attributes_and_buffers():
    code = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.register_buffer("running", torch.zeros(2))
            self.cache = None

        def forward(self, x):
            self.cache = None
            self.running = None
            self.fc = None
            return x

    model = Net()
    model.hidden = None
    model.running = None
    model.fc.weight.grad = None
    del model.cache
    """
    assert only(code, "GG201") == []


def test_does_not_flag_unknown_or_parameterless_modules():
    code = """
    import torch.nn as nn
    from mypackage.models import Net

    def reset(m):
        m.weight = None

    model = Net()
    model.weight = None
    seq = nn.Sequential(nn.ReLU())
    seq.weight = None
    no_bias = nn.Linear(2, 2, bias=False)
    no_bias.bias = None
    emb = nn.Embedding(5, 3)
    emb.bias = None
    relu = nn.ReLU()
    del relu.weight
    """
    assert only(code, "GG201") == []


def test_does_not_flag_correct_training_script():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(2):
        optimizer.zero_grad()
        loss = model(torch.randn(4, 3)).pow(2).mean()
        loss.backward()
        optimizer.step()
        model.weight.grad = None
    """
    assert only(code, "GG201") == []


# -- the fix -------------------------------------------------------------------------------


def test_fix_removes_the_statement_line():
    code = """
    import torch
    model = torch.nn.Linear(2, 2)
    model.weight = None  # drop it
    print(model)
    """
    (fixed,) = assert_all_fixes_repair(code, "GG201")
    assert fixed == "\nimport torch\nmodel = torch.nn.Linear(2, 2)\nprint(model)\n"
    (finding,) = only(code, "GG201")
    (fix,) = finding.fixes
    assert fix.title == "Remove the `None` assignment"
    assert fix.safety.value == "unsafe"


def test_fix_leaves_pass_when_only_statement_of_block():
    code = """
    import torch
    model = torch.nn.Linear(2, 2)
    if model.training:
        model.weight = None
    else:
        del model.weight
    """
    fixed = assert_all_fixes_repair(code, "GG201")
    assert "    pass\nelse:\n    del model.weight\n" in fixed[0]
    assert fixed[1].endswith("else:\n    pass\n")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a = 1; model.weight = None; b = 2", "a = 1; b = 2"),
        ("model.weight = None; b = 2", "b = 2"),
        ("a = 1; model.weight = None", "a = 1"),
        ("a = 1; model.weight = None;", "a = 1;"),
        ("if a: model.weight = None", "if a: pass"),
        ("if a: model.weight = None; b = 2", "if a: b = 2"),
    ],
)
def test_fix_on_lines_shared_with_semicolons(line, expected):
    code = f"import torch\nmodel = torch.nn.Linear(2, 2)\na = 1\n{line}\n"
    (fixed,) = assert_all_fixes_repair(code, "GG201")
    assert fixed.splitlines()[3:] == [expected]


def test_fix_removes_multiline_statement():
    code = """
    import torch
    model = torch.nn.Linear(2, 2)
    setattr(
        model,
        "weight",
        None,
    )
    print(model)
    """
    (fixed,) = assert_all_fixes_repair(code, "GG201")
    assert fixed.endswith("model = torch.nn.Linear(2, 2)\nprint(model)\n")


def test_fix_multiline_statement_alone_in_block_becomes_pass():
    code = """
    import torch
    model = torch.nn.Linear(2, 2)
    for _ in range(2):
        model.weight = (
            None
        )
    """
    (fixed,) = assert_all_fixes_repair(code, "GG201")
    assert fixed.endswith("for _ in range(2):\n    pass\n")


def test_fix_keeps_crlf_and_tabs():
    code = (
        "import torch\r\n"
        "model = torch.nn.Linear(2, 2)\r\n"
        "def f():\r\n"
        "\tx = 1\r\n"
        "\tmodel.weight = None\r\n"
        "\treturn x\r\n"
        "if True:\r\n"
        "\tmodel.bias = None\r\n"
    )
    findings = analyze(code, "train.py").findings
    targets = [f for f in findings if f.code == "GG201"]
    assert [f.span.start.line for f in targets] == [4, 7]
    first = apply_edits(code, targets[0].fixes[0].edits)
    assert first == code.replace("\tmodel.weight = None\r\n", "")
    second = apply_edits(code, targets[1].fixes[0].edits)
    assert second.endswith("if True:\r\n\tpass\r\n")
    assert_all_fixes_repair(code, "GG201")


def test_no_fix_when_del_also_removes_other_names():
    code = """
    import torch
    model = torch.nn.Linear(2, 2)
    cache = 1
    del model.weight, cache
    """
    (finding,) = only(code, "GG201")
    assert finding.fixes == ()


def test_no_fix_for_setattr_inside_an_expression():
    code = """
    import torch
    model = torch.nn.Linear(2, 2)
    result = setattr(model, "weight", None)
    """
    (finding,) = only(code, "GG201")
    assert finding.fixes == ()


def test_fix_of_data_none_removes_it():
    code = """
    import torch
    model = torch.nn.Linear(2, 2)
    model.weight.data = None
    """
    (fixed,) = assert_all_fixes_repair(code, "GG201")
    assert "data" not in apply_fix(code, only(code, "GG201")[0].fixes[0])
    assert fixed.endswith("model = torch.nn.Linear(2, 2)\n")


def test_does_not_flag_reparametrization_that_sets_the_name_again():
    code = """
    import torch
    import torch.nn as nn

    model = nn.Linear(2, 2)
    del model.weight
    model.weight = model.bias * 2
    other = nn.Linear(2, 2)
    other.weight = None
    other.weight = nn.Parameter(torch.randn(2, 2))
    third = nn.Linear(2, 2)
    setattr(third, "bias", None)
    third.register_parameter("bias", nn.Parameter(torch.zeros(2)))
    """
    assert only(code, "GG201") == []


def test_flags_annotated_function_argument_and_plain_torch_import():
    code = """
    import torch.nn

    def strip(layer: torch.nn.Linear, conv: torch.nn.Conv2d):
        layer.weight = None
        del conv.bias

    def untouched(layer):
        layer.weight = None
    """
    assert lines_of(code, "GG201") == [5, 6]


# -- a module passed to a function of the file ------------------------------------------


def test_flags_argument_of_a_helper_that_every_call_gives_the_model():
    code = """
    import torch.nn as nn


    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            return self.head(x)


    def run_epoch(net, batches, drop_bias):
        for x in batches:
            if drop_bias:
                net.head.bias = None
            net(x)


    def main():
        clf = Classifier()
        clf = clf.train()
        run_epoch(clf, [], True)
        run_epoch(net=clf, batches=[], drop_bias=False)
    """
    assert lines_of(code, "GG201") == [17]
    assert_all_fixes_repair(code, "GG201")


@pytest.mark.parametrize(
    "calls",
    [
        # Passed somewhere else as a value: callers we cannot see.
        "strip(Classifier())\nhooks = [strip]\n",
        # One call gives something unknown.
        "strip(Classifier())\nstrip(load_model())\n",
        # A call that unpacks its arguments.
        "strip(*models)\n",
        # No call in the file.
        "",
    ],
)
def test_does_not_flag_helper_argument_when_some_caller_is_unknown(calls):
    code = (
        "import torch.nn as nn\n\n\n"
        "class Classifier(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.head = nn.Linear(8, 2)\n\n\n"
        "def strip(net):\n"
        "    net.head.bias = None\n\n\n"
    ) + calls
    assert only(code, "GG201") == []


def test_flags_bias_of_a_head_set_earlier_in_the_scope():
    code = """
    import timm
    from torch import nn

    def build(num_classes):
        model = timm.create_model("resnet18", pretrained=False)
        model.head = nn.Linear(512, num_classes)
        model.head.bias = None
        return model
    """
    assert lines_of(code, "GG201") == [8]


# -- issue 11: through names and containers (shapes 3 and 9) --------------------------------


def test_none_through_a_name():
    code = """
    import torch.nn as nn

    layer = nn.Linear(4, 2)
    nothing = None
    layer.bias = nothing
    """
    (finding,) = only(code, "GG201")
    assert finding.span.start.line + 1 == 6
    assert "silently runs without it" in finding.message


def test_a_name_that_may_hold_a_tensor_is_left_alone():
    code = """
    import torch
    import torch.nn as nn

    layer = nn.Linear(4, 2)
    new_bias = None
    if keep:
        new_bias = nn.Parameter(torch.zeros(2))
    layer.bias = new_bias
    """
    assert only(code, "GG201") == []


def test_layer_of_a_sequential_by_index():
    code = """
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    model[0].bias = None
    model[2].weight = None
    """
    first, second = only(code, "GG201")
    assert first.span.start.line + 1 == 5
    assert "`model[0].bias`" in first.message
    assert "silently runs without it" in first.message
    assert "next forward raises `TypeError`" in second.message


def test_sequential_layer_without_a_bias_or_without_parameters_is_left_alone():
    code = """
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(4, 8, bias=False), nn.ReLU(), nn.Linear(8, 2))
    model[0].bias = None
    model[1].weight = None
    model[5].bias = None
    """
    assert only(code, "GG201") == []


def test_a_layer_reached_through_an_alias_in_a_function():
    code = """
    import torch.nn as nn


    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 2)

        def forward(self, x):
            return self.proj(x)


    def strip_bias(head):
        proj = head.proj
        proj.bias = None


    strip_bias(Head())
    """
    (finding,) = only(code, "GG201")
    assert finding.span.start.line + 1 == 16
