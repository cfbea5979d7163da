"""A trainer's model and optimizer carried across its methods and the code that uses it
(``semantic/held_optimizers.py``): the optimizer handed to ``Trainer(model, optimizer)`` or
built by its ``__init__``/``setup()``, then a replacement (GG102) or a move (GG105) before
``trainer.fit()`` steps it, and ``__init__`` building SGD over a buffer-only model (GG101).
Each positive case has a negative twin of the same shape."""

from __future__ import annotations

import textwrap

import pytest

from helpers import assert_all_fixes_repair, findings, lines_of, only

HEADER = """\
import torch
from torch import nn, optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 8)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.body(x)))

"""
DATA = "[(torch.randn(4, 8), torch.randint(0, 3, (4,)))]"

HANDED = (
    HEADER
    + """
class Trainer:
    def __init__(self, model, optimizer):
        self.model = model
        self.optimizer = optimizer

    def replace_head(self, classes):
        self.model.fc = nn.Linear(8, classes)
{extra}
    def fit(self, loader):
        for x, y in loader:
            self.optimizer.zero_grad()
            loss = nn.functional.cross_entropy(self.model(x), y)
            loss.backward()
            self.optimizer.step()


def main():
{body}
"""
)

BUILT = (
    HEADER
    + """
class Trainer:
    def __init__(self, model, lr=0.1):
        self.model = model
        self.optimizer = optim.SGD(self.model.parameters(), lr=lr)

    def replace_head(self, classes):
        self.model.fc = nn.Linear(8, classes)

    def reset_optimizer(self):
        self.optimizer = optim.SGD(self.model.parameters(), lr=0.1)

    def finetune(self, loader, classes):
        self.model.fc = nn.Linear(8, classes)
{finetune}
        self.fit(loader)

    def to(self, device):
        self.model.to(device)
        return self

    def fit(self, loader):
        for x, y in loader:
            self.optimizer.zero_grad()
            loss = nn.functional.cross_entropy(self.model(x), y)
            loss.backward()
            self.optimizer.step()


def main():
{body}
"""
)


def handed(body: str, extra: str = "") -> str:
    return HANDED.format(body=textwrap.indent(textwrap.dedent(body), "    "), extra=extra)


def built(body: str, finetune: str = "") -> str:
    return BUILT.format(body=textwrap.indent(textwrap.dedent(body), "    "), finetune=finetune)


def line_of(code: str, text: str) -> int:
    return next(n for n, line in enumerate(code.splitlines(), 1) if text in line)


# -- GG102: the optimizer handed to the trainer ------------------------------------------------


def test_a_trainer_method_replacing_the_head_after_the_optimizer_was_handed_over():
    code = handed(f"""
        model = Net()
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        trainer = Trainer(model, optimizer)
        trainer.replace_head(3)
        trainer.fit({DATA})
    """)
    (finding,) = only(code, "GG102")
    assert finding.span.start.line + 1 == line_of(code, "trainer.replace_head(3)")
    assert finding.message.startswith(
        f"`replace_head()` replaces `trainer.model.fc` (line {line_of(code, 'self.model.fc =')})"
        " after `optimizer` was created from the parameters of `model`"
    )
    (fixed,) = assert_all_fixes_repair(code, "GG102")
    assert "optimizer.add_param_group({'params': trainer.model.fc.parameters()})" in fixed


def test_main_replacing_the_head_after_handing_both_to_the_trainer():
    code = handed(f"""
        model = Net()
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        trainer = Trainer(model, optimizer)
        model.fc = nn.Linear(8, 3)
        trainer.fit({DATA})
    """)
    assert lines_of(code, "GG102") == [line_of(code, "model.fc = nn.Linear(8, 3)")]


@pytest.mark.parametrize(
    "body",
    [
        # replaced before the optimizer was built
        f"""
        model = Net()
        model.fc = nn.Linear(8, 3)
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        trainer = Trainer(model, optimizer)
        trainer.fit({DATA})
        """,
        # the trainer is never used after the replacement
        """
        model = Net()
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        trainer = Trainer(model, optimizer)
        trainer.replace_head(3)
        print(trainer)
        """,
        # another model's head
        f"""
        model = Net()
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        trainer = Trainer(model, optimizer)
        other = Net()
        other.fc = nn.Linear(8, 3)
        trainer.fit({DATA})
        """,
    ],
    ids=["replaced-first", "not-used-after", "other-model"],
)
def test_handed_over_optimizer_negatives(body):
    assert only(handed(body), "GG102") == []


def test_a_trainer_method_that_rebuilds_its_optimizer_after_replacing_is_silent():
    rebuild = "        self.optimizer = optim.SGD(self.model.parameters(), lr=0.1)\n"
    code = handed(
        f"""
        model = Net()
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        trainer = Trainer(model, optimizer)
        trainer.replace_head(3)
        trainer.fit({DATA})
        """
    ).replace(
        "        self.model.fc = nn.Linear(8, classes)\n",
        "        self.model.fc = nn.Linear(8, classes)\n" + rebuild,
    )
    assert only(code, "GG102") == []


# -- GG102: the optimizer built by the trainer's own method -----------------------------------


@pytest.mark.parametrize(
    ("body", "reported", "start"),
    [
        (
            f"trainer = Trainer(Net())\ntrainer.model.fc = nn.Linear(8, 3)\ntrainer.fit({DATA})",
            "trainer.model.fc = nn.Linear(8, 3)",
            "`trainer.model.fc` is replaced after",
        ),
        (
            "model = Net()\ntrainer = Trainer(model)\nmodel.fc = nn.Linear(8, 3)\n"
            f"trainer.fit({DATA})",
            "model.fc = nn.Linear(8, 3)",
            "`model.fc` is replaced after",
        ),
        (
            f"trainer = Trainer(Net())\ntrainer.replace_head(3)\ntrainer.fit({DATA})",
            "trainer.replace_head(3)",
            "`replace_head()` replaces `trainer.model.fc`",
        ),
        (
            f"trainer = Trainer(Net())\ntrainer.finetune({DATA}, 3)",
            "trainer.finetune(",
            "`finetune()` replaces `trainer.model.fc`",
        ),
        (
            f"trainer = Trainer(Net())\nfor classes in (3, 4):\n    trainer.fit({DATA})\n"
            "    trainer.model.fc = nn.Linear(8, classes)",
            "trainer.model.fc = nn.Linear(8, classes)",
            "`trainer.model.fc` is replaced after",
        ),
    ],
    ids=["field-of-trainer", "the-model-name", "trainer-method", "method-then-fit", "loop"],
)
def test_optimizer_built_in_init_then_replaced(body, reported, start):
    code = built(body)
    (finding,) = only(code, "GG102")
    assert finding.span.start.line + 1 == line_of(code, reported)
    assert finding.message.startswith(start), finding.message
    assert "`Trainer.__init__()` (line" in finding.message
    assert "created `self.optimizer` from the parameters of `self.model`" in finding.message
    created, used = finding.related
    assert created.span.start.line + 1 == line_of(code, "self.optimizer = optim.SGD(self.model")
    assert "is used here, after the replacement" in used.message


@pytest.mark.parametrize(
    ("body", "finetune"),
    [
        (
            "trainer = Trainer(Net())\ntrainer.model.fc = nn.Linear(8, 3)\n"
            f"trainer.reset_optimizer()\ntrainer.fit({DATA})",
            "",
        ),
        (
            "model = Net()\nmodel.fc = nn.Linear(8, 3)\ntrainer = Trainer(model)\n"
            f"trainer.fit({DATA})",
            "",
        ),
        (f"trainer = Trainer(Net())\ntrainer.fit({DATA})\ntrainer.model.fc = nn.Linear(8, 3)", ""),
        (
            f"trainer = Trainer(Net())\ntrainer.finetune({DATA}, 3)",
            "        self.optimizer = optim.SGD(self.model.parameters(), lr=0.1)\n",
        ),
        (f"trainer = Trainer(Net())\nprint(trainer.model.fc)\ntrainer.fit({DATA})", ""),
    ],
    ids=["reset-after", "replaced-before", "not-used-after", "method-rebuilds", "only-reads"],
)
def test_optimizer_built_in_init_negatives(body, finetune):
    assert only(built(body, finetune), "GG102") == []


def test_an_optimizer_built_in_setup_is_followed_from_the_setup_call():
    code = built(
        "trainer = Trainer(Net())\ntrainer.setup()\ntrainer.model.fc = nn.Linear(8, 3)\n"
        f"trainer.fit({DATA})"
    )
    code = code.replace(
        "        self.optimizer = optim.SGD(self.model.parameters(), lr=lr)\n",
        "        self.lr = lr\n\n    def setup(self):\n"
        "        self.optimizer = optim.SGD(self.model.parameters(), lr=self.lr)\n",
    )
    (finding,) = only(code, "GG102")
    assert "`Trainer.setup()`" in finding.message


def test_a_callback_replacing_the_trainers_head_and_one_that_only_reads():
    callback = """
class HeadSwap:
    def on_stage_end(self, trainer):
        trainer.model.fc = nn.Linear(8, 3)

    def on_log(self, trainer):
        print(trainer.model.fc.out_features)

"""
    code = built(
        f"trainer = Trainer(Net())\ncb = HeadSwap()\ncb.on_log(trainer)\ncb.on_stage_end(trainer)\n"
        f"trainer.fit({DATA})"
    ).replace("\nclass Trainer:", callback + "\nclass Trainer:")
    assert lines_of(code, "GG102") == [line_of(code, "cb.on_stage_end(trainer)")]


# -- GG105: moved after the trainer built its optimizer ------------------------------------------


def test_model_cast_after_the_trainer_built_its_optimizer():
    code = built(f"model = Net()\ntrainer = Trainer(model)\nmodel.double()\ntrainer.fit({DATA})")
    (finding,) = only(code, "GG105")
    assert finding.span.start.line + 1 == line_of(code, "model.double()")
    assert finding.message.startswith("`model.double()` runs after `Trainer.__init__()` (line")
    assert finding.severity.value == "information"


def test_a_trainer_method_moving_its_model_after_building_the_optimizer():
    code = built(f"trainer = Trainer(Net())\ntrainer.to('cuda')\ntrainer.fit({DATA})")
    (finding,) = only(code, "GG105")
    assert finding.span.start.line + 1 == line_of(code, "trainer.to('cuda')")
    assert f"(`.to()` on line {line_of(code, 'self.model.to(device)')})" in finding.message


@pytest.mark.parametrize(
    "body",
    [
        f"model = Net()\nmodel.double()\ntrainer = Trainer(model)\ntrainer.fit({DATA})",
        f"model = Net().double()\ntrainer = Trainer(model)\nmodel.double()\ntrainer.fit({DATA})",
        "model = Net()\ntrainer = Trainer(model)\nmodel.double()\nprint(trainer)",
        "trainer = Trainer(Net())\ntrainer.to('cuda')\ntrainer.reset_optimizer()\n"
        f"trainer.fit({DATA})",
    ],
    ids=["moved-first", "same-move-before", "not-used-after", "rebuilt-after"],
)
def test_moves_after_the_trainer_negatives(body):
    assert only(built(body), "GG105") == []


def test_an_optimizer_handed_to_the_trainer_then_the_model_cast():
    code = handed(
        f"model = Net()\noptimizer = optim.Adam(model.parameters())\n"
        f"trainer = Trainer(model, optimizer)\nmodel.double()\ntrainer.fit({DATA})"
    )
    assert lines_of(code, "GG105") == [line_of(code, "model.double()")]


# -- GG101: __init__ builds SGD over a buffer-only model -----------------------------------------

BUFFERS = """\
import torch
from torch import nn, optim


class Fixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("weight", torch.randn(2, 8))

    def forward(self, x):
        return x @ self.weight.t()


class Trainer:
    def __init__(self, model):
        self.model = model
        self.optimizer = optim.SGD(self.model.parameters(), lr=0.1)

{construction}
"""


def test_init_building_sgd_over_a_buffer_only_model_a_construction_passes():
    code = BUFFERS.format(construction="Trainer(Fixed())")
    (finding,) = only(code, "GG101")
    assert finding.span.start.line + 1 == line_of(code, "self.optimizer = optim.SGD")
    line = line_of(code, "Trainer(Fixed())")
    assert finding.message.endswith(
        f"raises `ValueError: optimizer got an empty parameter list` when line {line} makes a "
        "`Trainer`"
    )


def test_a_buffer_only_model_bound_to_a_name_then_handed_to_the_trainer():
    code = BUFFERS.format(construction="model = Fixed()\ntrainer = Trainer(model)")
    assert lines_of(code, "GG101") == [line_of(code, "self.optimizer = optim.SGD")]


@pytest.mark.parametrize(
    "construction",
    [
        "Trainer(nn.Linear(8, 2))",
        "class Other:\n    pass",
        # the trainer's own code may give the model parameters: not known to be empty
        "model = Fixed()\nnn.utils.parametrizations.weight_norm(model)\ntrainer = Trainer(model)",
    ],
    ids=["a-model-with-parameters", "never-constructed", "handed-elsewhere"],
)
def test_init_building_sgd_negatives(construction):
    assert only(BUFFERS.format(construction=construction), "GG101") == []


@pytest.mark.parametrize(
    "grows",
    [
        "        self.model.head = nn.Linear(8, 2)\n",
        "        nn.utils.parametrizations.weight_norm(self.model)\n",
    ],
    ids=["adds-a-head", "hands-it-on"],
)
def test_a_trainer_that_may_give_the_model_it_keeps_parameters_is_silent(grows):
    code = BUFFERS.format(construction="model = Fixed()\ntrainer = Trainer(model)").replace(
        "        self.model = model\n", "        self.model = model\n" + grows
    )
    assert only(code, "GG101") == []


def test_the_same_trainer_shapes_are_silent_without_a_trainer_class():
    """No class here: nothing is followed across methods, nothing new is reported."""
    code = HEADER + f"model = Net()\noptimizer = optim.SGD(model.parameters())\nprint({DATA})\n"
    assert findings(code) == []


# -- an optimizer a same-file function or method returns -----------------------------------------

LIGHTNING_LIKE = """\
import torch
from torch import nn


class LitModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(8, 2)

    def forward(self, x):
        return self.l1(x)

    def configure_optimizers(self):
        return torch.optim.Adagrad(self.parameters(), lr=0.02)
{other}

class Trainer:
    def fit(self, model, loader):
{fit}
        for x, y in loader:
            self.optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            self.optimizer.step()


Trainer().fit(LitModel(), [(torch.randn(2, 8), torch.randint(0, 2, (2,)))])
"""
ASK_THEN_MOVE = "        self.optimizer = model.configure_optimizers()\n        model.cuda()\n"


def test_the_module_moved_after_its_configure_optimizers_returned_the_optimizer():
    code = LIGHTNING_LIKE.format(other="", fit=ASK_THEN_MOVE)
    (finding,) = only(code, "GG105")
    assert finding.span.start.line + 1 == line_of(code, "model.cuda()")
    assert finding.message.startswith(
        "`model.cuda()` runs after `self.optimizer` was created from the parameters of `model`"
    )


@pytest.mark.parametrize(
    ("other", "fit"),
    [
        ("", "        model.cuda()\n        self.optimizer = model.configure_optimizers()\n"),
        # two classes define it and the file cannot say which one `model` is
        (
            "\n\nclass Other(nn.Module):\n    def configure_optimizers(self):\n"
            "        return torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)\n",
            ASK_THEN_MOVE,
        ),
    ],
    ids=["moved-first", "ambiguous-method"],
)
def test_returned_optimizer_negatives(other, fit):
    assert only(LIGHTNING_LIKE.format(other=other, fit=fit), "GG105") == []


def test_a_same_file_factory_returning_the_optimizer_then_the_head_replaced():
    code = (
        HEADER
        + f"""
def make_optimizer(model, lr=0.1):
    return optim.SGD(model.parameters(), lr=lr)


def main():
    model = Net()
    optimizer = make_optimizer(model)
    model.fc = nn.Linear(8, 3)
    for x, y in {DATA}:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
"""
    )
    assert lines_of(code, "GG102") == [line_of(code, "model.fc = nn.Linear(8, 3)")]
    (fixed,) = assert_all_fixes_repair(code, "GG102")
    assert "optimizer.add_param_group({'params': model.fc.parameters()})" in fixed
    fixed_order = code.replace(
        "    optimizer = make_optimizer(model)\n    model.fc = nn.Linear(8, 3)\n",
        "    model.fc = nn.Linear(8, 3)\n    optimizer = make_optimizer(model)\n",
    )
    assert only(fixed_order, "GG102") == []


# -- an optimizer built as the trainer's constructor argument ------------------------------------

INLINE = "trainer = Trainer(model, optim.{optimizer}(model.parameters(), lr=0.1))"


@pytest.mark.parametrize(
    ("after", "code_", "start"),
    [
        ("model.fc = nn.Linear(8, 3)", "GG102", "`model.fc` is replaced after the optimizer"),
        ("model.double()", "GG105", "`model.double()` runs after the optimizer"),
    ],
)
def test_an_optimizer_built_inline_for_the_trainer(after, code_, start):
    body = f"model = Net()\n{INLINE.format(optimizer='Adam')}\n{after}\ntrainer.fit({DATA})"
    code = handed(body)
    (finding,) = only(code, code_)
    assert finding.span.start.line + 1 == line_of(code, after)
    assert finding.message.startswith(start), finding.message
    assert "handed to `Trainer(...)` on line" in finding.message
    assert "(kept as `self.optimizer`) was created from the parameters of `model`" in (
        finding.message
    )


@pytest.mark.parametrize(
    "body",
    [
        f"model = Net()\nmodel.fc = nn.Linear(8, 3)\n{INLINE.format(optimizer='SGD')}\n"
        f"trainer.fit({DATA})",
        f"model = Net()\n{INLINE.format(optimizer='SGD')}\nmodel.fc = nn.Linear(8, 3)\n"
        "print(trainer)",
        # a class that does not keep the optimizer it is given
        "model = Net()\nLogger(optim.SGD(model.parameters(), lr=0.1))\nmodel.fc = nn.Linear(8, 3)",
    ],
    ids=["replaced-first", "not-used-after", "not-kept"],
)
def test_an_optimizer_built_inline_negatives(body):
    logger = "\nclass Logger:\n    def __init__(self, optimizer):\n        print(optimizer)\n\n"
    code = handed(body).replace("\nclass Trainer:", logger + "\nclass Trainer:")
    assert only(code, "GG102") == []
