from helpers import assert_all_fixes_repair, lines_of, only

EPOCH_LOOP = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.dropout = nn.Dropout(0.25)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


def train_one_epoch(model, loader, optimizer, criterion):
    for images, labels in loader:
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()


def validate(model, loader, criterion):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for images, labels in loader:
            total += criterion(model(images), labels).item()
    return total / len(loader)


model = Net()
optimizer = torch.optim.Adam(model.parameters())
criterion = nn.CrossEntropyLoss()
model.train()
for epoch in range(10):
    train_one_epoch(model, train_loader, optimizer, criterion)
    print(epoch, validate(model, val_loader, criterion))
"""


def test_flags_validate_in_the_epoch_loop_without_train():
    (finding,) = only(EPOCH_LOOP, "GG508")
    assert finding.span.start.line + 1 == 40
    assert finding.severity.value == "warning"
    expected = "`model.eval()` (in `validate(model, val_loader, criterion)`, line 26)"
    assert expected in finding.message
    assert "Dropout drops nothing" in finding.message
    assert [r.span.start.line + 1 for r in finding.related] == [26, 39]
    (fix,) = finding.fixes
    assert fix.safety.value == "safe"
    (fixed,) = assert_all_fixes_repair(EPOCH_LOOP, "GG508")
    assert "for epoch in range(10):\n    model.train()\n    train_one_epoch(" in fixed


def test_information_when_no_dropout_or_batchnorm_is_visible():
    code = """
    import torch

    def fit(model, train_loader, val_loader, optimizer):
        for epoch in range(5):
            for x, y in train_loader:
                optimizer.zero_grad()
                model(x).loss.backward()
                optimizer.step()
            model.eval()
            evaluate(model, val_loader)
    """
    (finding,) = only(code, "GG508")
    assert finding.severity.value == "information"
    assert finding.span.start.line + 1 == 10


def test_flags_validation_inside_the_batch_loop_despite_train_at_epoch_top():
    code = """
    import torch
    import torchvision

    class Trainer:
        def __init__(self):
            self.model = torchvision.models.resnet18()
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)

        def evaluate(self):
            self.model.eval()
            with torch.no_grad():
                return sum(self.model(x).sum().item() for x in self.val_loader)

        def fit(self, loader, epochs):
            for epoch in range(epochs):
                self.model.train()
                for step, (x, y) in enumerate(loader):
                    self.optimizer.zero_grad()
                    torch.nn.functional.cross_entropy(self.model(x), y).backward()
                    self.optimizer.step()
                    if step % 500 == 0:
                        self.evaluate()
    """
    (finding,) = only(code, "GG508")
    assert finding.span.start.line + 1 == 23
    (fixed,) = assert_all_fixes_repair(code, "GG508")
    assert (
        "for step, (x, y) in enumerate(loader):\n"
        "                self.model.train()\n"
        "                self.optimizer.zero_grad()"
    ) in fixed


def test_silent_when_train_is_restored_or_another_model_is_evaluated():
    code = """
    import torch

    def train_one_epoch(model, loader, optimizer):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            model(x).mean().backward()
            optimizer.step()

    def validate(model, loader):
        model.eval()
        with torch.no_grad():
            return [model(x) for x in loader]

    for epoch in range(10):
        train_one_epoch(model, train_loader, optimizer)
        validate(model, val_loader)

    for epoch in range(10):
        for x, y in train_loader:
            optimizer.zero_grad()
            model(x).mean().backward()
            optimizer.step()
            ema.update(model)
        ema_model.eval()
        validate(ema_model, val_loader)

    for epoch in range(10):
        for x, y in train_loader:
            optimizer.zero_grad()
            model(x).mean().backward()
            optimizer.step()
        validate(model, val_loader)
        model.train()

    for epoch in range(10):
        for x, y in train_loader:
            optimizer.zero_grad()
            model(x).mean().backward()
            optimizer.step()
        if epoch == 9:
            model.eval()
            break
    """
    assert only(code, "GG508") == []


def test_silent_when_the_mode_is_set_from_a_variable():
    code = """
    import torch

    def run(model, loaders, optimizer, epochs):
        for epoch in range(epochs):
            for phase in ["train", "val"]:
                model.train(phase == "train")
                for x, y in loaders[phase]:
                    loss = model(x).mean()
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
            model.eval()
    """
    assert lines_of(code, "GG508") == []


SEVERITY_NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)
        self.dropout = nn.Dropout(0.25)

    def forward(self, x):
        return self.fc(self.dropout(x))

"""

TRAINER = (
    SEVERITY_NET
    + """
class Trainer:
    def __init__(self, loader):
        self.model = Net()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.loader = loader

    def fit(self, epochs):
        for epoch in range(epochs):
            for x, y in self.loader:
                self.optimizer.zero_grad()
                self.model(x).sum().backward()
                self.optimizer.step()
            self.model.eval()
"""
)

FIT = (
    SEVERITY_NET
    + """
def fit(model, loader, optimizer):
    for epoch in range(5):
        for x, y in loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
        model.eval()

"""
)

REBOUND = (
    SEVERITY_NET
    + """
model = Net()
model = nn.Linear(784, 10)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(5):
    for x, y in loader:
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()
    model.eval()
"""
)


def _severities(code: str) -> list[tuple[int, str]]:
    return [(f.span.start.line + 1, f.severity.value) for f in only(code, "GG508")]


def test_warning_for_a_trainer_whose_self_model_has_dropout():
    assert _severities(TRAINER) == [(28, "warning")]


def test_warning_for_the_model_the_file_passes_to_fit():
    called = FIT + "net = Net()\nfit(net, loader, torch.optim.SGD(net.parameters(), lr=0.1))\n"
    assert _severities(called) == [(22, "warning")]
    assert _severities(FIT) == [(22, "information")]  # nobody in the file calls it


def test_the_model_bound_when_the_loop_starts_decides_not_an_earlier_one():
    assert _severities(REBOUND) == [(24, "information")]
    dropout_last = REBOUND.replace(
        "model = Net()\nmodel = nn.Linear(784, 10)", "model = nn.Linear(784, 10)\nmodel = Net()"
    )
    assert _severities(dropout_last) == [(24, "warning")]
