"""Shape 10, negative: every caller keeps the bias, so zeroing it is fine."""

from torch import nn

registry = {"zeros": nn.init.zeros_, "normal": nn.init.normal_}


class Block(nn.Module):
    def __init__(self, dim, use_bias=True):
        super().__init__()
        self.fc = nn.Linear(dim, dim, bias=use_bias)
        init = registry["zeros"]
        init(self.fc.bias)

    def forward(self, x):
        return self.fc(x)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block(8)
        self.other = Block(8, use_bias=True)

    def forward(self, x):
        return self.other(self.block(x))


model = Model()
