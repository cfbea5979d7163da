from helpers import assert_all_fixes_repair, lines_of, only

TRAIN_ONE_EPOCH = """
import torch
from torch import nn


def train_one_epoch(model, loader, optimizer, criterion):
    model.train()
    running_loss = 0.0
    for inputs, targets in loader:
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        running_loss += loss * inputs.size(0)
    return running_loss / len(loader.dataset)
"""


def test_flags_running_loss_in_train_one_epoch():
    (finding,) = only(TRAIN_ONE_EPOCH, "GG506")
    assert finding.span.start.line + 1 == 15
    assert finding.severity.value == "warning"
    assert "`loss` requires grad (it is backward-ed at line 13)" in finding.message
    assert "7,004 graph nodes" in finding.message
    assert "Accumulate `(loss * inputs.size(0)).item()` instead" in finding.message
    assert finding.related[0].span.start.line + 1 == 13
    (fix,) = finding.fixes
    assert fix.safety.value == "unsafe"
    (fixed,) = assert_all_fixes_repair(TRAIN_ONE_EPOCH, "GG506")
    assert "running_loss += (loss * inputs.size(0)).item()\n" in fixed


def test_flags_appended_losses_in_a_trainer_and_keeps_tensors_for_stack():
    code = """
    import torch

    class Trainer:
        def __init__(self, model, optimizer, scaler):
            self.model, self.optimizer, self.scaler = model, optimizer, scaler
            self.history = []

        def fit(self, loader):
            epoch_losses = []
            for batch in loader:
                self.optimizer.zero_grad()
                loss = self.model(**batch).loss
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                epoch_losses.append(loss)
                self.history.append(loss)
            return torch.stack(epoch_losses).mean().item()
    """
    findings = only(code, "GG506")
    assert [f.span.start.line + 1 for f in findings] == [17, 18]
    # torch.stack needs tensors: the fix keeps one, without its graph
    assert findings[0].fixes[0].title == "Accumulate `.detach()` of the value"
    assert findings[1].fixes[0].title == "Accumulate `.item()` of the value"
    fixed = assert_all_fixes_repair(code, "GG506")
    assert "epoch_losses.append(loss.detach())" in fixed[0]
    assert "self.history.append(loss.item())" in fixed[1]


def test_flags_evaluation_loop_without_no_grad():
    code = """
    import torch
    from torch import nn

    def validate(model, val_loader, criterion):
        model.eval()
        val_loss = 0
        predictions = []
        for images, labels in val_loader:
            logits = model(images)
            val_loss = val_loss + criterion(logits, labels)
            predictions.append(torch.softmax(logits, dim=1))
        return val_loss / len(val_loader), predictions

    def main(model, train_loader, val_loader, optimizer, criterion):
        for epoch in range(10):
            for images, labels in train_loader:
                optimizer.zero_grad()
                criterion(model(images), labels).backward()
                optimizer.step()
            print(validate(model, val_loader, criterion))
    """
    findings = only(code, "GG506")
    assert [f.span.start.line + 1 for f in findings] == [11, 12]
    assert "it comes from `model(images)` run with grad on" in findings[0].message
    assert "about 1 GB" in findings[0].message and "torch.no_grad()" in findings[0].message
    assert findings[1].fixes[0].title == "Accumulate `.detach()` of the value"
    assert_all_fixes_repair(code, "GG506")


def test_silent_when_the_evaluation_runs_under_no_grad():
    code = """
    import torch

    def evaluate(model, loader, criterion):
        model.eval()
        total = 0
        for x, y in loader:
            total += criterion(model(x), y)
        return total / len(loader)

    @torch.no_grad()
    def test(model, loader, criterion):
        total = 0
        for x, y in loader:
            total += criterion(model(x), y)
        return total

    def inline(model, loader, criterion):
        total = 0
        with torch.no_grad():
            for x, y in loader:
                total += criterion(model(x), y)
        return total

    with torch.no_grad():
        print(evaluate(model, val_loader, criterion))
    """
    assert only(code, "GG506") == []


def test_silent_on_sums_for_one_backward_and_detached_values():
    code = """
    import torch

    def train(model, heads, loader, optimizer, tasks):
        for x, y in loader:
            loss = 0
            for head in heads:
                loss += head(model(x)).mean()  # summed within one iteration
            loss.backward()
            losses = []
            for head in heads:
                losses.append(head(model(x)).mean())
            torch.stack(losses).sum().backward()
            optimizer.step()

        meta_loss = 0
        for task in tasks:  # one backward through the sum, after the loop
            meta_loss = meta_loss + model(task).sum()
        meta_loss.backward()

        total, correct, seen = 0.0, 0, []
        for x, y in loader:
            optimizer.zero_grad()
            out = model(x)
            loss = (out - y).pow(2).mean()
            loss.backward()
            optimizer.step()
            total += loss.item()
            total += float(loss)
            seen.append(loss.detach().cpu())
            correct += (out.argmax(1) == y).sum()
            _, predicted = torch.max(out, 1)
            correct += (predicted == y).sum().item()
    """
    assert only(code, "GG506") == []


def test_rnn_language_model_epoch_loop():
    code = """
    import torch
    from torch import nn

    class RNNModel(nn.Module):
        def __init__(self, ntoken):
            super().__init__()
            self.encoder = nn.Embedding(ntoken, 32)
            self.rnn = nn.LSTM(32, 32)
            self.decoder = nn.Linear(32, ntoken)

        def forward(self, x, hidden):
            out, hidden = self.rnn(self.encoder(x), hidden)
            return self.decoder(out), hidden

    model = RNNModel(100)
    optimizer = torch.optim.SGD(model.parameters(), lr=20)
    for epoch in range(3):
        total_loss = 0.0
        for i, (data, targets) in enumerate(batches):
            hidden = None
            optimizer.zero_grad()
            output, hidden = model(data, hidden)
            loss = nn.functional.cross_entropy(output.view(-1, 100), targets)
            loss.backward()
            optimizer.step()
            total_loss += loss
            if i % 200 == 0:
                print(total_loss / 200)
                total_loss = 0.0
    """
    assert lines_of(code, "GG506") == [27]


def test_model_builders_and_name_helpers_are_not_forward_passes():
    code = """
    import torch

    def collect(configs, val_loader):
        names, models = [], []
        for cfg in val_loader:
            names.append(_get_qualified_module_name(cfg))
            models.append(build_model(cfg))
        return names, models
    """
    assert only(code, "GG506") == []


TERMS_OF_THE_LOSS = """
import torch
from torch import nn


def train_one_epoch(model, loader, optimizer, mse, ce):
    running_mse = 0.0
    running_ce = 0.0
    for x, points, label in loader:
        optimizer.zero_grad()
        out = model(x)
        reg = mse(out[:, :2], points)
        cls = ce(out[:, 2:], label)
        loss = reg + 0.5 * cls
        loss.backward()
        optimizer.step()
        running_mse += reg
        running_ce += cls.item()
    return running_mse, running_ce
"""


def test_flags_a_term_of_the_backwarded_loss():
    """`reg` is a node of the graph `loss.backward()` went through: its total keeps it."""
    (finding,) = only(TERMS_OF_THE_LOSS, "GG506")
    assert finding.span.start.line + 1 == 17
    message = finding.message
    assert "`reg` requires grad (it is part of `loss`, backward-ed at line 15)" in message
    (fixed,) = assert_all_fixes_repair(TERMS_OF_THE_LOSS, "GG506")
    assert "running_mse += reg.item()\n" in fixed


def test_silent_on_terms_that_are_not_forward_outputs_or_not_in_the_loss():
    code = """
    import torch
    from torch import nn


    def train_one_epoch(model, loader, optimizer, mse, weight_penalty):
        running_penalty = 0.0
        running_aux = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            out = model(x)
            penalty = weight_penalty()
            aux = mse(out, y)
            loss = mse(out, y) + penalty
            loss.backward()
            optimizer.step()
            running_penalty += penalty
            running_aux += aux
        return running_penalty, running_aux
    """
    # `penalty` is no forward output (unknown), `aux` is not a term of the backward-ed loss
    assert only(code, "GG506") == []


def test_the_model_a_name_holds_at_the_loop_counts_not_a_later_rebinding():
    code = """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x)


    f = Net()
    history = []
    for x, y in loader:
        out = f(x)
        history.append(out.sum())
    f = None
    g = None
    for x, y in loader:
        history.append(g(x).sum())
    g = Net()
    """
    assert lines_of(code, "GG506") == [19]
