"""Shape 10: an init function from a registry, on a layer built with `bias=use_bias`."""

from torch import nn

registry = {"zeros": nn.init.zeros_, "normal": nn.init.normal_}


class Block(nn.Module):
    def __init__(self, dim, use_bias=True):
        super().__init__()
        self.fc = nn.Linear(dim, dim, bias=use_bias)
        init = registry["zeros"]
        init(self.fc.bias)  # expect: GG304

    def forward(self, x):
        return self.fc(x)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block(8, use_bias=False)

    def forward(self, x):
        return self.block(x)


model = Model()
