"""What GG202's and GG203's messages claim about parameters, measured on real torch.

Each test is one sentence of a message or rule page: the shapes issue 11 added (a dict of
dicts of ``nn.Parameter``; ``setattr`` over a layer's parameter names).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.torch


class _Experts(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.experts = {"a": {"w": nn.Parameter(torch.randn(2, 2))}}


def test_a_dict_of_dicts_of_parameters_is_not_registered_moved_or_optimised():
    model = _Experts()
    expert = model.experts["a"]["w"]
    assert [name for name, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]
    assert list(model.state_dict()) == ["fc.weight", "fc.bias"]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert not any(p is expert for group in optimizer.param_groups for p in group["params"])
    model.to(torch.float64)
    assert model.fc.weight.dtype == torch.float64
    assert expert.dtype == torch.float32


@pytest.mark.parametrize(
    ("layer", "value", "type_name"),
    [
        (lambda: nn.Linear(3, 2), lambda p: p.detach() * 2, "torch.FloatTensor"),
        (lambda: nn.Linear(3, 2), lambda p: p.detach().half(), "torch.HalfTensor"),
        (lambda: nn.Linear(3, 2, bias=False), lambda p: torch.zeros(2), "torch.FloatTensor"),
    ],
)
def test_setattr_of_a_plain_tensor_over_a_parameter_name_raises(layer, value, type_name):
    module = layer()
    for name in list(module._parameters):
        current = module._parameters[name]
        with pytest.raises(TypeError) as raised:
            setattr(module, name, value(current if current is not None else torch.zeros(2)))
        assert str(raised.value) == (
            f"cannot assign '{type_name}' as parameter '{name}' "
            "(torch.nn.Parameter or None expected)"
        )


def test_setattr_with_dotted_names_and_after_unregistering_does_not_raise():
    model = nn.Sequential(nn.Linear(2, 2))
    for name, parameter in model.named_parameters():
        setattr(model, name, parameter.detach() * 0)  # "0.weight": a plain attribute
    assert model[0].weight.abs().sum() > 0
    layer = nn.Linear(2, 2)
    orig = layer.weight
    del layer._parameters["weight"]
    setattr(layer, "weight", orig.detach() * 1)  # noqa: B010 (the setattr shape GG202 reads)
    assert type(layer.weight) is torch.Tensor


@pytest.mark.parametrize(
    "build",
    [
        lambda: nn.Linear(2, 2),
        lambda: nn.Conv2d(1, 1, 3),
        lambda: nn.BatchNorm2d(2),
        lambda: nn.LayerNorm(2),
        lambda: nn.GroupNorm(1, 2),
        lambda: nn.Embedding(3, 2),
        lambda: nn.PReLU(),
        lambda: nn.LSTM(2, 2, num_layers=2),
        lambda: nn.GRU(2, 2),
        lambda: nn.MultiheadAttention(4, 2),
    ],
)
def test_the_layer_catalogue_names_each_layers_own_parameters(build):
    from gradguard.semantic.catalogue.layers import layer_has_parameter

    layer = build()
    own = [name for name, _ in layer.named_parameters(recurse=False)]
    assert own and all(layer_has_parameter(type(layer).__name__, name) for name in own)
    assert not layer_has_parameter(type(layer).__name__, "not_a_parameter")


def test_the_parameterless_layers_of_the_catalogue_register_none():
    from gradguard.semantic.catalogue.layers import PARAMETERLESS_LAYERS

    checked = 0
    for name in sorted(PARAMETERLESS_LAYERS):
        try:
            layer = getattr(nn, name)()
        except (TypeError, AttributeError):
            continue  # needs constructor arguments
        checked += 1
        assert list(layer.named_parameters(recurse=False)) == [], name
    assert checked > 40
