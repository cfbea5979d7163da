"""Next ring: an optimizer wrapper passes the module itself in one branch."""

from torch import nn, optim


class OptimizerFactory:
    def __init__(self, name, lr):
        self.name = name
        self.lr = lr

    def build(self, model):
        if self.name == "sgd":
            return optim.SGD(model, lr=self.lr, momentum=0.9)  # expect: GG101
        return optim.Adam(model.parameters(), lr=self.lr)


net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
optimizer = OptimizerFactory("sgd", 0.1).build(net)
