import pytest

from helpers import assert_all_fixes_repair, lines_of, only

SPELLINGS = ["_init_", "__init", "__int__", "init"]


@pytest.mark.parametrize("name", SPELLINGS)
def test_flags_misspelled_constructor_of_module(name):
    code = f"""
    import torch.nn as nn

    class Net(nn.Module):
        def {name}(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
    """
    (finding,) = only(code, "GG204")
    assert finding.span.start.line == 4
    assert finding.span.end.column - finding.span.start.column == len(name)
    assert f"Net.{name}" in finding.message


def test_flags_subclass_of_local_module_and_layer():
    code = """
    from torch import nn

    class Base(nn.Module):
        pass

    class Net(Base):
        def _init_(self):
            pass

    class MyLinear(nn.Linear):
        def __int__(self):
            pass
    """
    assert lines_of(code, "GG204") == [8, 12]


def test_fix_renames_to_init():
    code = """
    import torch
    class Net(torch.nn.Module):
        def _init_(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)
    """
    (fixed,) = assert_all_fixes_repair(code, "GG204")
    assert "def __init__(self):" in fixed


def test_silent_when_a_real_constructor_exists():
    # torch/ao/nn/quantized/modules/conv.py: `_init` is a helper its subclasses call.
    code = """
    import torch
    class _ConvNd(torch.nn.Module):
        def __init__(self, channels):
            super().__init__()
            self._init(channels)
        def _init(self, channels):
            self.weight = torch.nn.Parameter(torch.zeros(channels))
    class Conv2d(_ConvNd):
        def __init__(self, channels):
            super()._init(channels)
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
        def init(self):
            pass
    """
    assert only(code, "GG204") == []


@pytest.mark.parametrize(
    "code",
    [
        # Not a module: plain classes may name methods as they like.
        "class Config:\n    def init(self):\n        pass\n",
        # Correct constructor.
        "import torch.nn as nn\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n",
        # An unrelated `nn` that is not torch.
        "import mylib.nn as nn\nclass Net(nn.Module):\n    def _init_(self):\n        pass\n",
    ],
)
def test_does_not_flag(code):
    assert only(code, "GG204") == []


def test_does_not_flag_factories_inherited_constructors_or_called_helpers():
    code = """
    from abc import ABC, abstractmethod

    import torch
    from torch import nn


    class TestModel(nn.Module, ABC):
        @staticmethod
        @abstractmethod
        def init(*args, **kwargs) -> nn.Module:
            ...


    class Wrapped(nn.Module):
        @classmethod
        def init(cls, width):
            model = cls()
            model.fc = nn.Linear(width, width)
            return model


    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3)
            self.init()

        def init(self):
            nn.init.zeros_(self.stem.bias)


    class Detector(Backbone):
        def _init_(self):
            self.head = nn.Linear(8, 2)


    class Lazy(nn.Module):
        def init(self):
            self.fc = nn.Linear(2, 2)


    lazy = Lazy()
    nn.Module.__init__(lazy)
    lazy.init()
    """
    assert only(code, "GG204") == []


def test_a_call_of_another_objects_init_does_not_hide_the_misspelling():
    code = """
    import wandb
    from torch import nn


    class Net(nn.Module):
        def init(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)


    wandb.init(project="demo")
    model = Net()
    """
    assert lines_of(code, "GG204") == [7]
