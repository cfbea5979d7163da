"""GG303, issue 11 next ring: `.grad` read in the caller on a non-leaf that a same-file
method or function returns (measured on torch 2.13.0: `t = scaler.temperature();
loss.backward(); t.grad` is None with the non-leaf UserWarning, and `t.grad.abs()`
raises `AttributeError: 'NoneType' object has no attribute 'abs'`)."""

import pytest

from helpers import findings, only

CALIBRATION = """
import torch
import torch.nn.functional as F
from torch import nn


class Temperature(nn.Module):
    def __init__(self):
        super().__init__()
        self.log_t = nn.Parameter(torch.zeros(1))

    {decorator}def temperature(self):
        return {returned}

    def forward(self, logits):
        return logits / self.temperature()


def calibrate(logits, labels, steps=50):
    scaler = Temperature()
    optimizer = torch.optim.SGD(scaler.parameters(), lr=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        t = scaler.temperature()
{retain}        loss = F.cross_entropy(logits / t, labels)
        loss.backward()
        print("temperature grad", t.grad.abs().item())
        optimizer.step()
    return scaler
"""


def calibration(returned="self.log_t.exp()", retain="", decorator=""):
    return CALIBRATION.format(returned=returned, retain=retain, decorator=decorator)


def test_grad_of_a_non_leaf_a_same_file_method_returns():
    code = calibration()
    (finding,) = only(code, "GG303")
    line = code.splitlines()[finding.span.start.line]
    assert line.strip() == 'print("temperature grad", t.grad.abs().item())'
    assert finding.message.startswith("`t` is computed from tensors that require grad")
    # One mistake, one finding: GG301 leaves the non-leaf to GG303.
    assert only(code, "GG301") == []


def test_grad_of_a_non_leaf_a_same_file_function_returns():
    code = """
    import torch
    from torch import nn

    def scaled(layer, factor):
        return layer.weight * factor

    layer = nn.Linear(4, 2)
    w = scaled(layer, 2.0)
    w.sum().backward()
    print(w.grad)
    """
    # `layer` is a parameter of `scaled`: the file does not show what it holds there.
    assert only(code, "GG303") == []


@pytest.mark.parametrize(
    ("returned", "retain", "decorator"),
    [
        ("self.log_t", "", ""),  # the leaf itself: its .grad is filled
        ("self.log_t.exp().detach()", "", ""),  # a new leaf without history
        ("self.log_t.exp()", "        t.retain_grad()\n", ""),  # kept on purpose
        ("self.log_t.exp()", "", "@torch.no_grad()\n    "),  # no graph at all
    ],
)
def test_leaves_and_retained_non_leaves_are_left_alone(returned, retain, decorator):
    code = calibration(returned=returned, retain=retain, decorator=decorator)
    assert [f for f in findings(code) if f.code == "GG303"] == []
