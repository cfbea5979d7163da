"""Control flow queries: dominates, always_before, mutually_exclusive, can_move_past."""

import ast
import textwrap

import pytest

from gradguard.analysis.facts import ModuleFacts
from gradguard.semantic import control
from gradguard.source import SourceFile

CODE = textwrap.dedent(
    """\
    model = Net()
    for epoch in range(3):
        opt = make()
        with ctx:
            loss = step()
        if cuda:
            model.cuda()
        else:
            model.cpu()
        try:
            loss.backward()
        except RuntimeError:
            skipped = 1
            logged = 2
        finally:
            done = 1
    print(model)
    """
)


@pytest.fixture(scope="module")
def facts():
    return ModuleFacts(SourceFile(CODE, "train.py"), ast.parse(CODE))


def statement(facts, line):
    return next(info.node for info in facts.statements_of(facts.tree) if info.node.lineno == line)


@pytest.mark.parametrize(
    ("a", "b", "dominates", "always_before"),
    [
        (1, 17, True, True),  # straight line
        (1, 3, True, True),  # before a loop, into its body
        (2, 3, True, True),  # a loop header runs before its body
        (3, 5, True, True),  # into a with block
        (5, 11, True, True),  # out of a with block, in the same loop body
        (3, 17, False, True),  # a loop body may run zero times
        (7, 11, False, False),  # an if arm runs only sometimes
        (7, 9, False, False),  # the other arm
        (11, 16, False, False),  # try body then finally: not claimed
        (13, 14, True, True),  # two statements of one except handler
        (13, 17, False, False),  # an except handler runs only sometimes
        (17, 1, False, False),  # later never dominates earlier
    ],
)
def test_dominates_and_always_before(facts, a, b, dominates, always_before):
    first, second = statement(facts, a), statement(facts, b)
    assert control.dominates(facts, first, second) is dominates
    assert control.always_before(facts, first, second) is always_before


def test_mutually_exclusive_arms(facts):
    assert control.mutually_exclusive(facts, statement(facts, 7), statement(facts, 9))
    assert not control.mutually_exclusive(facts, statement(facts, 7), statement(facts, 11))


def test_can_move_past():
    tree = ast.parse("opt = SGD(model.parameters())\nx = 1\nmodel.cuda()\n")
    creation, between, move = tree.body
    assert control.can_move_past(move, [creation, between], "model")
    tree = ast.parse("opt = SGD(model.parameters())\nprint(model)\nmodel.cuda()\n")
    creation, between, move = tree.body
    assert not control.can_move_past(move, [creation, between], "model")
    tree = ast.parse("opt = SGD(model.parameters())\ndevice = 'cuda'\nmodel.to(device)\n")
    creation, between, move = tree.body
    assert not control.can_move_past(move, [creation, between], "model")
