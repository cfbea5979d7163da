import textwrap

import pytest

from helpers import apply_fix, assert_all_fixes_repair, findings, lines_of, only

CLASS = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.backbone(x)))
"""

LOOP = """
for _ in range(3):
    optimizer.zero_grad()
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
"""


def program(imports: str, body: str, loop: str = LOOP) -> str:
    return imports + CLASS + textwrap.dedent(body) + loop


NN = "import torch\nimport torch.nn as nn\n"


# -- what it flags ---------------------------------------------------------------------------


def test_flags_replaced_submodule_with_related_creation_line():
    code = program(
        NN + "import torch.optim as optim\n",
        """
        model = Net()
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        model.fc = nn.Linear(4, 3)
        """,
    )
    (finding,) = only(code, "GG102")
    assert finding.span.start.line + 1 == 16  # the assignment
    assert finding.message.startswith("`model.fc` is replaced after `optimizer` was created")
    assert "never updates them" in finding.message
    assert finding.severity.value == "warning"
    (related,) = finding.related
    assert related.span.start.line + 1 == 15


@pytest.mark.parametrize(
    ("imports", "creation", "replacement", "words"),
    [
        (
            "from torch import optim\n",
            "optim.Adam(model.parameters())",
            "model = Net()",
            "replaced by a new model",
        ),
        (
            "import copy\nfrom torch.optim import AdamW as W\n",
            "W(model.parameters())",
            "model = copy.deepcopy(model)",
            "deep copy",
        ),
        (
            "from copy import deepcopy\nimport torch.optim\n",
            "torch.optim.SGD(model.parameters(), 0.1)",
            "model = deepcopy(model)",
            "deep copy",
        ),
        (
            "",
            "torch.optim.SGD(model.parameters(), lr=0.1)",
            "model = Net().to('cpu').train()",
            "replaced by a new model",
        ),
        (
            "",
            "torch.optim.SGD(model.parameters(), lr=0.1)",
            "model.fc.weight = nn.Parameter(torch.randn(2, 4))",
            "new Parameter",
        ),
        (
            "",
            "torch.optim.SGD(model.parameters(), lr=0.1)",
            "torch.nn.utils.weight_norm(model.fc)",
            "`weight_norm` replaces `model.fc.weight`",
        ),
        (
            "",
            "torch.optim.SGD(model.parameters(), lr=0.1)",
            "nn.utils.parametrizations.weight_norm(model.fc)",
            "new parameters",
        ),
        (
            "from torch.nn.utils.parametrizations import weight_norm\n",
            "torch.optim.SGD(model.parameters(), lr=0.1)",
            "weight_norm(model.fc, name='weight')",
            "new parameters",
        ),
        (
            "",
            "torch.optim.SGD(model.parameters(), lr=0.1)",
            "setattr(model, 'fc', nn.Linear(4, 2))",
            "`model.fc` is replaced",
        ),
    ],
)
def test_flags_every_kind_of_replacement(imports, creation, replacement, words):
    code = program(NN + imports, f"model = Net()\noptimizer = {creation}\n{replacement}\n")
    (finding,) = only(code, "GG102")
    assert words in finding.message
    lines = code.splitlines()
    assert finding.span.start.line == len(lines) - 1 - lines[::-1].index(replacement)
    assert_all_fixes_repair(code, "GG102")


def test_flags_nn_alias_and_factory_model():
    code = """
    import torch
    import torch.nn as tnn
    import torchvision

    net = torchvision.models.resnet18()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    net.fc = tnn.Linear(512, 10)
    opt.step()
    """
    assert lines_of(code, "GG102") == [8]


def test_flags_replacement_through_same_file_function_at_the_call():
    code = program(
        NN,
        """
        def replace_head(m, classes):
            m.fc = nn.Linear(4, classes)

        def adapt(net):
            replace_head(net, 5)
            return net

        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        print("built")
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)
        replace_head(model, classes=3)
        model = adapt(model)
        """,
    )
    found = only(code, "GG102")
    assert [f.span.start.line + 1 for f in found] == [24, 25]
    first, second = found
    assert first.message.startswith("`replace_head()` replaces `model.fc` (line 14)")
    assert second.message.startswith("`adapt()` replaces `model.fc` (line 14)")
    assert source_of(code, first) == "replace_head(model, classes=3)"
    assert source_of(code, second) == "adapt(model)"  # followed two levels deep
    fixed = assert_all_fixes_repair(code, "GG102")
    assert (
        "replace_head(model, classes=3)\n"
        "optimizer.add_param_group({'params': model.fc.parameters()})\n" in fixed[0]
    )


def source_of(code, finding):
    lines = code.splitlines()
    start, end = finding.span.start, finding.span.end
    assert start.line == end.line
    return lines[start.line][start.column : end.column]


def test_flags_inside_function_and_class_method():
    code = """
    import torch
    from torch import nn

    def finetune(model, loader):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        model.classifier = nn.Linear(768, 2)
        for x, y in loader:
            optimizer.zero_grad()
            optimizer.step()

    class Trainer:
        def setup(self):
            self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
            self.model.head = nn.Linear(8, 2)
            self.opt.step()
    """
    assert lines_of(code, "GG102") == [7, 15]


def test_flags_replacement_later_in_a_loop_that_uses_the_optimizer_earlier():
    code = program(
        NN,
        """
        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(4):
            optimizer.step()
            if epoch == 2:
                model.fc = nn.Linear(4, 2)
        """,
        loop="",
    )
    replaced = code.splitlines().index("        model.fc = nn.Linear(4, 2)") + 1
    assert lines_of(code, "GG102") == [replaced]


def test_one_finding_for_an_optimizer_created_in_both_arms_of_an_if():
    code = program(
        NN,
        """
        model = Net()
        if adam:
            optimizer = torch.optim.Adam(model.parameters())
        else:
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        model.fc = nn.Linear(4, 3)
        model.cuda()
        """,
    )
    assert len(only(code, "GG102")) == 1
    assert len(only(code, "GG105")) == 1


def test_flags_layer_of_a_module_list_and_optimizer_of_a_submodule():
    code = program(
        NN,
        """
        model = Net()
        optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.1)
        model.layers[0] = nn.Linear(4, 4)
        model = Net()
        """,
    )
    # model.layers is not part of model.fc; replacing the whole model is.
    assert lines_of(code, "GG102") == [16]


def test_flags_module_level_replacement_when_a_later_called_function_steps():
    code = """
    import copy
    import torch
    import torch.nn as nn

    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model = copy.deepcopy(model)

    def train(epoch):
        optimizer.zero_grad()
        model(torch.randn(2, 4)).sum().backward()
        optimizer.step()

    for epoch in range(3):
        train(epoch)
    """
    assert lines_of(code, "GG102") == [8]
    assert lines_of(code.replace("    train(epoch)\n", "    pass\n"), "GG102") == []


# -- what it does not flag -------------------------------------------------------------------

SAFE_AFTER = [
    "model.load_state_dict(torch.load('ckpt.pt'))",
    "model.to('cuda')",
    "model = model.to(device)",
    "model.cuda()",
    "model.double()",
    "model.half()",
    "model = nn.DataParallel(model)",
    "model = torch.nn.parallel.DistributedDataParallel(model)",
    "model.fc.reset_parameters()",
    "torch.nn.utils.prune.l1_unstructured(model.fc, 'weight', amount=0.2)",
    "model.fc.requires_grad_(False)",
    "with torch.no_grad():\n    model.fc.weight.copy_(torch.zeros(2, 4))",
    "model.fc.weight.data = torch.zeros(2, 4)",
    "model.fc = nn.Linear(4, 2)\noptimizer.add_param_group({'params': model.fc.parameters()})",
    "model.fc.weight = nn.Parameter(torch.zeros(2, 4))\n"
    "optimizer.add_param_group({'params': [model.fc.weight]})",
    "model = Net()\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)",
    "model.fc = nn.Linear(4, 2)\noptimizer = build_optimizer(model)",
    "nn.utils.parametrizations.spectral_norm(model.fc)",
    "nn.utils.parametrizations.orthogonal(model.fc)",
    "model.fc = nn.Identity()",
    "model.fc = nn.Sequential()",
    "model.fc = nn.Sequential(model.fc, nn.Dropout(0.1))",
    "other = Net()",
    "other.fc = nn.Linear(4, 2)",
]


@pytest.mark.parametrize("after", SAFE_AFTER)
def test_does_not_flag_what_keeps_the_parameters(after):
    code = program(
        NN + "device = 'cpu'\nother = None\n",
        "model = Net()\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n" + after + "\n",
    )
    assert only(code, "GG102") == []


@pytest.mark.parametrize(
    "body",
    [
        # Correct order: replace, then create.
        "model = Net()\nmodel.fc = nn.Linear(4, 3)\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n",
        # The optimizer is never used after the replacement.
        "model = Net()\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\noptimizer.step()\n"
        "model.fc = nn.Linear(4, 3)\n",
        # Exclusive branches.
        "model = Net()\nif resume:\n    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "else:\n    model.fc = nn.Linear(4, 3)\n"
        "    optimizer = torch.optim.SGD(model.parameters())\n"
        "optimizer.step()\n",
        # A fresh model and optimizer per fold.
        "for fold in range(5):\n    model = Net()\n"
        "    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    for _ in range(3):\n        optimizer.step()\n",
        # An optimizer not bound to a name cannot be followed.
        "model = Net()\ntrain(model, torch.optim.SGD(model.parameters(), lr=0.1))\n"
        "model.fc = nn.Linear(4, 3)\n",
        # A same-file function that adds the new part itself.
        "def grow(m, opt):\n    m.fc = nn.Linear(4, 3)\n"
        "    opt.add_param_group({'params': m.fc.parameters()})\n"
        "model = Net()\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "grow(model, optimizer)\n"
        "optimizer.step()\n",
        # A same-file function that replaces a layer of a copy, not of the caller's model.
        "def variant(m):\n    m = copy.deepcopy(m)\n    m.fc = nn.Linear(4, 3)\n    return m\n"
        "model = Net()\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "variant(model)\noptimizer.step()\n",
        # A same-file function that only rebinds its own parameter name.
        "def fresh(m):\n    m = Net()\n    return m\n"
        "model = Net()\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\nfresh(model)\n"
        "optimizer.step()\n",
    ],
)
def test_does_not_flag_correct_programs(body):
    code = NN + "import copy\nresume = True\n" + CLASS + body
    assert only(code, "GG102") == []


def test_unknown_model_class_and_odd_shapes_do_not_raise():
    code = """
    import torch
    from mylib import Model, helpers
    model = Model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.fc = helpers.make_head()
    model.fc = Model
    (a, b), *c = model.x, model.y = 1, 2
    setattr(model, name, value)
    setattr(*args)
    torch.nn.utils.weight_norm(*mods)
    torch.nn.utils.weight_norm(model.fc, name=dynamic)
    [(y := model) for _ in ()] if False else None
    optimizer.step()
    """
    assert only(code, "GG102") == []


# -- fixes -----------------------------------------------------------------------------------


def test_reorder_fix_moves_creation_with_comment_and_multiline_call_below_last_replacement():
    code = (
        NN
        + CLASS
        + textwrap.dedent(
            """
        model = Net()
        # SGD with momentum, as in the paper
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=0.1,  # tuned
            momentum=0.9,
        )

        model.fc = nn.Linear(4, 3)  # three classes now
        model.backbone.weight = nn.Parameter(torch.randn(4, 4))
        for _ in range(3):
            optimizer.step()
        """
        )
    )
    found = only(code, "GG102")
    assert len(found) == 2
    titles = {fix.title for f in found for fix in f.fixes}
    assert titles == {"Move the optimizer creation below line 22"}
    fixed = apply_fix(code, found[0].fixes[0])
    assert fixed.endswith(
        textwrap.dedent(
            """
            model = Net()

            model.fc = nn.Linear(4, 3)  # three classes now
            model.backbone.weight = nn.Parameter(torch.randn(4, 4))
            # SGD with momentum, as in the paper
            optimizer = torch.optim.SGD(
                model.parameters(),
                lr=0.1,  # tuned
                momentum=0.9,
            )
            for _ in range(3):
                optimizer.step()
            """
        )
    )
    assert found[0].fixes[0].safety.value == "unsafe"
    # Moving once repairs both findings.
    assert only(fixed, "GG102") == []


def test_reorder_fix_keeps_tabs_and_crlf_inside_a_function():
    code = (
        "import torch\r\nfrom torch import nn\r\n\r\n"
        "def train(model):\r\n"
        "\toptimizer = torch.optim.Adam(model.parameters())\r\n"
        "\tif True:\r\n"
        "\t\tmodel.head = nn.Linear(2, 2)\r\n"
        "\toptimizer.step()\r\n"
    )
    (finding,) = only(code, "GG102")
    (fix,) = finding.fixes
    assert fix.title == "Move the optimizer creation below line 7"
    fixed = apply_fix(code, fix)
    assert fixed == (
        "import torch\r\nfrom torch import nn\r\n\r\n"
        "def train(model):\r\n"
        "\tif True:\r\n"
        "\t\tmodel.head = nn.Linear(2, 2)\r\n"
        "\toptimizer = torch.optim.Adam(model.parameters())\r\n"
        "\toptimizer.step()\r\n"
    )
    assert_all_fixes_repair(code, "GG102")


def test_reorder_fix_for_replacement_through_function():
    code = program(
        NN,
        """
        def replace_head(m):
            m.fc = nn.Linear(4, 3)

        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        replace_head(model)
        """,
    )
    (fixed,) = assert_all_fixes_repair(code, "GG102")
    assert "replace_head(model)\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n" in fixed


@pytest.mark.parametrize(
    "between",
    [
        "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)",  # uses the optimizer
        "lr = 0.5",  # rebinds a name the creation reads
        "optimizer.step()",
    ],
)
def test_add_param_group_fix_when_reorder_would_cross_something(between):
    code = program(
        NN,
        f"""
        lr = 0.1
        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        {between}
        model.fc = nn.Linear(4, 3)
        """,
    )
    (finding,) = only(code, "GG102")
    (fix,) = finding.fixes
    assert fix.title == "Add the new parameters to `optimizer` with `add_param_group`"
    (fixed,) = assert_all_fixes_repair(code, "GG102")
    assert (
        "model.fc = nn.Linear(4, 3)\noptimizer.add_param_group({'params': model.fc.parameters()})\n"
        in fixed
    )


def test_no_reorder_when_the_parameters_were_collected_earlier():
    code = program(
        NN,
        """
        model = Net()
        params = list(model.parameters())
        optimizer = torch.optim.SGD(params, lr=0.1)
        model.fc = nn.Linear(4, 3)
        """,
    )
    (finding,) = only(code, "GG102")
    (fix,) = finding.fixes
    assert "add_param_group" in fix.title
    assert_all_fixes_repair(code, "GG102")


@pytest.mark.parametrize(
    ("replacement", "added"),
    [
        ("model.fc.weight = nn.Parameter(torch.randn(2, 4))", "[model.fc.weight]"),
        ("torch.nn.utils.weight_norm(model.fc)", "[model.fc.weight_g, model.fc.weight_v]"),
        (
            "nn.utils.parametrizations.weight_norm(model.fc)",
            "model.fc.parametrizations.weight.parameters()",
        ),
        ("model = Net()", "model.parameters()"),
        ("model.layers[1] = nn.Linear(4, 4)", "model.layers[1].parameters()"),
        (
            "nn.utils.parametrizations.weight_norm(model.layers[1])",
            "model.layers[1].parametrizations.weight.parameters()",
        ),
        (
            "model.layers[0] = nn.utils.parametrizations.weight_norm(model.layers[0])",
            "model.layers[0].parametrizations.weight.parameters()",
        ),
    ],
)
def test_add_param_group_fix_names_the_new_part(replacement, added):
    code = program(
        NN,
        f"""
        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(2):
            optimizer.step()
        {replacement}
        """,
    )
    (fixed,) = assert_all_fixes_repair(code, "GG102")
    assert f"{replacement}\noptimizer.add_param_group({{'params': {added}}})\n" in fixed


def test_add_param_group_fix_on_the_last_line_without_newline_and_indented():
    code = (
        "import torch\nfrom torch import nn\n"
        "def f(model, opt_list):\n"
        "    for step in range(3):\n"
        "        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "        optimizer.step()\n"
        "        model.fc = nn.Linear(2, 2)\n"
        "        optimizer.step()"
    )
    (fixed,) = assert_all_fixes_repair(code, "GG102")
    assert fixed.endswith(
        "        model.fc = nn.Linear(2, 2)\n"
        "        optimizer.add_param_group({'params': model.fc.parameters()})\n"
        "        optimizer.step()"
    )


def test_no_fix_when_the_replacement_shares_a_line():
    code = program(
        NN,
        """
        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        optimizer.step()
        if True: model.fc = nn.Linear(4, 3)
        x = 1; model.backbone = nn.Linear(4, 4)
        """,
    )
    found = only(code, "GG102")
    assert len(found) == 2
    assert all(f.fixes == () for f in found)


def test_every_fix_in_a_realistic_file_repairs():
    code = """
    import copy
    import torch
    import torch.nn as nn
    import torch.optim as optim

    def build():
        return nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))

    model = build()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    ema = copy.deepcopy(model)
    model[2] = nn.Linear(4, 3)
    for x in range(3):
        optimizer.zero_grad()
        optimizer.step()
    """
    assert lines_of(code, "GG102") == [13]
    (fixed,) = assert_all_fixes_repair(code, "GG102")
    assert "model[2] = nn.Linear(4, 3)\noptimizer = optim.SGD" in fixed
    assert not [f for f in findings(fixed) if f.code == "GG102"]


# -- issue 11: shapes the semantic model follows -------------------------------------------


def gg102_lines(body: str, loop: str = LOOP) -> list[int]:
    return lines_of(program(NN, body, loop), "GG102")


def body_line(body: str, text: str) -> int:
    """The 1-based line of ``program(NN, body)`` that starts with ``text``."""
    lines = program(NN, body).splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(text))


SHAPE_1_LOCAL = """
model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
head = nn.Linear(4, 3)
model.fc = head
"""

SHAPE_1_HELPER = """
def speedup(model):
    new = nn.Linear(4, 4)
    model.backbone = new


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
speedup(model)
"""

SHAPE_2 = """
def replace_head(m):
    inner = m.backbone
    inner.fc = nn.Linear(4, 4)


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
replace_head(model)
"""

SHAPE_2_SCRIPT = """
model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
inner = model.backbone
inner.extra = nn.Linear(4, 4)
"""

SHAPE_3 = """
model = Net()
net = model
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
model.fc = nn.Linear(4, 3)
"""

SHAPE_4 = """
model = Net()
other = Net()
params = model.parameters()
optimizer = torch.optim.SGD(params, lr=0.1)
params = other.parameters()
other.fc = nn.Linear(4, 3)
model.fc = nn.Linear(4, 3)
"""

SHAPE_5 = """
model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def reset_model():
    global model
    model = Net()


def train():
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(2, 4)).sum().backward()
        optimizer.step()


reset_model()
train()
"""

SHAPE_9 = """
model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model[2] = nn.Linear(4, 3)
"""


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (SHAPE_1_LOCAL, "model.fc = head"),
        (SHAPE_1_HELPER, "speedup(model)"),
        (SHAPE_2, "replace_head(model)"),
        (SHAPE_2_SCRIPT, "inner.extra = "),
        (SHAPE_3, "model.fc = "),
        (SHAPE_4, "model.fc = "),
        (SHAPE_9, "model[2] = "),
    ],
)
def test_replacement_the_model_follows(body, text):
    assert gg102_lines(body) == [body_line(body, text)]


def test_global_model_rebound_in_a_function():
    (finding,) = only(program(NN, SHAPE_5, loop=""), "GG102")
    assert finding.span.start.line + 1 == body_line(SHAPE_5, "reset_model()")
    assert "`reset_model()` replaces `model`" in finding.message


def test_a_container_rebuilt_from_its_own_children_is_no_replacement():
    body = """
    import torchvision
    model = torchvision.models.vgg16()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.classifier = nn.Sequential(*list(model.classifier.children())[:-1])
    """
    assert gg102_lines(body) == []


def test_a_new_layer_given_to_the_optimizer_by_a_helper_is_no_replacement():
    body = """
    def add_head(optimizer, head):
        optimizer.add_param_group({"params": head.parameters()})


    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.fc = nn.Linear(4, 3)
    add_head(optimizer, model.fc)
    """
    assert gg102_lines(body) == []


def test_a_layer_moved_between_parts_of_the_model_is_no_replacement():
    body = """
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    head = model.fc
    model.fc = head
    """
    assert gg102_lines(body) == []


GPT = """
class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10)

    def forward(self, idx):
        return self.head(self.wte(idx))

    def resize_token_embeddings(self, size):
        new = nn.Embedding(size, 4)
        self.wte = new
"""


def test_a_model_method_that_replaces_a_layer_through_a_conditional_alias():
    """Next ring: ``m = model.module if hasattr(model, "module") else model``, then a
    method of the model builds a layer in a local and assigns it to ``self.wte``."""
    body = (
        GPT
        + """
model = GPT()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
m = model.module if hasattr(model, "module") else model
m.resize_token_embeddings(12)
"""
    )
    (finding,) = only(program(NN, body), "GG102")
    assert finding.span.start.line + 1 == body_line(body, "m.resize_token_embeddings(12)")
    assert "`resize_token_embeddings()` replaces `m.wte`" in finding.message


def test_a_model_method_called_before_the_optimizer_is_left_alone():
    body = (
        GPT
        + """
model = GPT()
model.resize_token_embeddings(12)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
"""
    )
    assert only(program(NN, body), "GG102") == []


def test_a_method_of_another_model_is_left_alone():
    body = (
        GPT
        + """
model = GPT()
teacher = GPT()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
teacher.resize_token_embeddings(12)
"""
    )
    assert only(program(NN, body), "GG102") == []


def test_a_layer_of_a_base_class_put_back_is_no_replacement():
    body = """
    class Classifier(Net):
        def __init__(self):
            super().__init__()
            self.extra = nn.Linear(2, 2)


    model = Classifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    head = model.fc
    model.fc = head
    """
    assert gg102_lines(body) == []


# -- issue 11: a model and its optimizer kept in a wrapper's fields ------------------------

_WRAPPER = """
import copy
import torch
from torch import nn


class ModelWrapper:
    def __init__(self, model, optimizer):
        self._model = model
        self._optimizer = optimizer

    def clone(self):
        {clone}

    def train_step(self, x, y):
        self._optimizer.zero_grad()
        loss = nn.functional.mse_loss(self._model(x), y)
        loss.backward()
        self._optimizer.step()
        return loss.item()
"""


@pytest.mark.parametrize(
    "clone",
    [
        "return ModelWrapper(copy.deepcopy(self._model), self._optimizer)",
        "return type(self)(optimizer=self._optimizer, model=copy.deepcopy(self._model))",
        "return self.__class__(copy.deepcopy(self._model), self._optimizer)",
    ],
)
def test_flags_clone_that_shares_the_optimizer_with_a_deep_copy(clone):
    code = _WRAPPER.format(clone=clone)
    (finding,) = only(code, "GG102")
    assert finding.message == (
        "`clone()` gives the new object a deep copy of `self._model` but the same "
        "`self._optimizer`, which does not hold the copy's parameters (a deep copy makes new "
        "ones), so `self._optimizer.step()` on the clone never trains its model"
    )
    assert code.splitlines()[finding.span.start.line].strip() == clone
    (related,) = finding.related
    assert related.message == "`self._optimizer` is stepped here"
    assert finding.fixes == ()


@pytest.mark.parametrize(
    "clone",
    [
        # The whole wrapper deep-copied: the copied optimizer holds the copied parameters.
        "return copy.deepcopy(self)",
        # A new optimizer for the copy.
        "model = copy.deepcopy(self._model)\n"
        "        return ModelWrapper(model, torch.optim.SGD(model.parameters(), lr=0.1))",
        # The same model (no copy): the optimizer holds its parameters.
        "return ModelWrapper(self._model, self._optimizer)",
    ],
)
def test_does_not_flag_clones_that_keep_model_and_optimizer_together(clone):
    assert only(_WRAPPER.format(clone=clone), "GG102") == []


def test_does_not_flag_a_wrapper_that_never_steps_the_shared_optimizer():
    code = """
    import copy

    class Snapshot:
        def __init__(self, model, optimizer):
            self._model = model
            self._optimizer = optimizer

        def clone(self):
            return Snapshot(copy.deepcopy(self._model), self._optimizer)

        def state(self):
            return self._model.state_dict(), self._optimizer.state_dict()
    """
    assert only(code, "GG102") == []


# -- issue 11: Lightning calls configure_optimizers() before on_fit_start() ----------------

_LIGHTNING = """
import pytorch_lightning as pl
import torch
import torchvision
from torch import nn


class Classifier(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = torchvision.models.resnet18()

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.model(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD({params}, lr=0.1)
{extra}
"""


def test_flags_callback_replacing_the_head_in_on_fit_start():
    extra = """
class NewHead(pl.Callback):
    def on_fit_start(self, trainer, pl_module):
        pl_module.model.fc = nn.Linear(512, 10)
"""
    code = _LIGHTNING.format(params="self.parameters()", extra=extra)
    (finding,) = only(code, "GG102")
    assert finding.message == (
        "`on_fit_start()` replaces `pl_module.model.fc` after Lightning called "
        "`configure_optimizers()` (fit runs it first), so the optimizer never updates the new "
        "parameters"
    )
    (related,) = finding.related
    assert related.message == "The optimizer is created here, before the hook"
    assert code.splitlines()[related.span.start.line].strip().startswith("return torch.optim")


def test_flags_the_module_s_own_on_train_start_replacing_a_layer_of_its_model():
    extra = """
    def on_train_start(self):
        self.model.fc = nn.Linear(512, 10)
"""
    code = _LIGHTNING.format(params="self.model.parameters()", extra=extra)
    (finding,) = only(code, "GG102")
    assert finding.message.startswith("`on_train_start()` replaces `self.model.fc` after")


@pytest.mark.parametrize(
    ("params", "extra"),
    [
        # setup() and configure_model() run before configure_optimizers().
        (
            "self.parameters()",
            "\n    def setup(self, stage):\n        self.model.fc = nn.Linear(512, 10)\n",
        ),
        (
            "self.parameters()",
            "\n    def configure_model(self):\n        self.model.fc = nn.Linear(512, 10)\n",
        ),
        # The callback builds the optimizers again after the replacement.
        (
            "self.parameters()",
            "\nclass NewHead(pl.Callback):\n"
            "    def on_fit_start(self, trainer, pl_module):\n"
            "        pl_module.model.fc = nn.Linear(512, 10)\n"
            "        trainer.strategy.setup_optimizers(trainer)\n",
        ),
        # Only freezing, no new parameters.
        (
            "self.parameters()",
            "\nclass Freeze(pl.Callback):\n"
            "    def on_fit_start(self, trainer, pl_module):\n"
            "        pl_module.model.fc.requires_grad_(False)\n",
        ),
        # The container rebuilt from its own children brings no new parameters.
        (
            "self.parameters()",
            "\nclass Trim(pl.Callback):\n"
            "    def on_fit_start(self, trainer, pl_module):\n"
            "        pl_module.model.layer4 = nn.Sequential("
            "*list(pl_module.model.layer4.children())[:-1])\n",
        ),
        # The optimizer holds only another part's parameters.
        (
            "self.head.parameters()",
            "\n    def on_fit_start(self):\n        self.model.fc = nn.Linear(512, 10)\n",
        ),
    ],
)
def test_does_not_flag_hooks_before_configure_optimizers_or_without_new_parameters(params, extra):
    code = _LIGHTNING.format(params=params, extra=extra)
    if "self.head" in params:
        code = code.replace(
            "self.model = torchvision.models.resnet18()",
            "self.model = torchvision.models.resnet18()\n        self.head = nn.Linear(512, 2)",
        )
    assert only(code, "GG102") == []


_SHALLOW = """
import copy
import torch
from torch import nn


class Learner:
    def __init__(self, model, lr):
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def clone(self):
        learner = copy.copy(self)
        learner.model = copy.deepcopy(self.model){rebuild}
        return learner

    def adapt(self, x, y):
        self.opt.zero_grad()
        nn.functional.cross_entropy(self.model(x), y).backward()
        self.opt.step()
"""


def test_flags_a_shallow_copy_given_a_deep_copied_model_but_the_old_optimizer():
    code = _SHALLOW.format(rebuild="")
    (finding,) = only(code, "GG102")
    assert code.splitlines()[finding.span.start.line].strip() == (
        "learner.model = copy.deepcopy(self.model)"
    )
    assert finding.message.startswith(
        "`clone()` gives the new object a deep copy of `self.model` but the same `self.opt`"
    )


def test_does_not_flag_a_shallow_copy_that_builds_its_own_optimizer():
    rebuild = "\n        learner.opt = torch.optim.SGD(learner.model.parameters(), lr=0.1)"
    assert only(_SHALLOW.format(rebuild=rebuild), "GG102") == []


_BUILT_NEW = """
import copy
import torch
from torch import nn


class Learner:
    def __init__(self, model, optimizer=None, lr=0.01):
        self._model = model
        self._optimizer = optimizer or torch.optim.SGD(model.parameters(), lr=lr)

    def clone(self):
        new = Learner.__new__(Learner)
        new._model = copy.deepcopy(self._model){optimizer}
        return new

    def adapt(self, x, y):
        self._optimizer.zero_grad()
        nn.functional.mse_loss(self._model(x), y).backward()
        self._optimizer.step()
"""


def test_flags_a_clone_built_with_new_that_stores_the_old_optimizer():
    code = _BUILT_NEW.format(optimizer="\n        new._optimizer = self._optimizer")
    (finding,) = only(code, "GG102")
    assert code.splitlines()[finding.span.start.line].strip() == "new._optimizer = self._optimizer"


@pytest.mark.parametrize(
    "optimizer",
    [
        "\n        new._optimizer = torch.optim.SGD(new._model.parameters(), lr=0.01)",
        "",  # no optimizer at all: not this rule's business
    ],
)
def test_does_not_flag_a_clone_built_with_new_and_its_own_or_no_optimizer(optimizer):
    assert only(_BUILT_NEW.format(optimizer=optimizer), "GG102") == []


def test_flags_an_optional_optimizer_parameter_handed_on_by_clone():
    code = _BUILT_NEW.replace(
        "        new = Learner.__new__(Learner)\n"
        "        new._model = copy.deepcopy(self._model){optimizer}\n"
        "        return new\n",
        "        return Learner(copy.deepcopy(self._model), self._optimizer)\n",
    )
    (finding,) = only(code, "GG102")
    assert finding.message.startswith("`clone()` gives the new object a deep copy of `self._model`")


def test_a_head_from_a_factory_that_moves_it_before_returning_is_a_new_module():
    code = program(
        NN,
        """
        def make_head(device):
            head = nn.Linear(4, 3)
            return head.to(device)


        def same_layer(layer):
            return layer


        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        model.backbone = same_layer(model.backbone)
        model.fc = make_head("cpu")
        """,
    )
    assert lines_of(code, "GG102") == [25]  # not the same_layer line


def test_a_replacement_three_helpers_deep_is_followed_to_the_engines_call_depth():
    code = program(
        NN,
        """
        def replace_head(m):
            m.fc = nn.Linear(4, 3)


        def adapt(m):
            replace_head(m)


        def fine_tune(m):
            adapt(m)


        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        fine_tune(model)
        """,
    )
    assert lines_of(code, "GG102") == [27]  # the fine_tune(model) call (main: 2 levels only)
