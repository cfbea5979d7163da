from helpers import assert_all_fixes_repair, lines_of, only

LANGUAGE_MODEL = """
import torch
from torch import nn


class RNNModel(nn.Module):
    def __init__(self, ntoken, nhid):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, nhid)
        self.rnn = nn.LSTM(nhid, nhid)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x, hidden):
        output, hidden = self.rnn(self.encoder(x), hidden)
        return self.decoder(output), hidden

    def init_hidden(self, bsz):
        return (torch.zeros(1, bsz, 32), torch.zeros(1, bsz, 32))


def train(model, train_data, optimizer, criterion):
    model.train()
    hidden = model.init_hidden(20)
    for batch, (data, targets) in enumerate(train_data):
        optimizer.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(output.view(-1, 100), targets)
        loss.backward()
        optimizer.step()
"""


def test_flags_hidden_state_carried_across_batches():
    (finding,) = only(LANGUAGE_MODEL, "GG507")
    assert finding.span.start.line + 1 == 26
    assert finding.severity.value == "error"
    assert "`hidden` is carried into the next iteration without `.detach()`" in finding.message
    assert "Trying to backward through the graph a second time" in finding.message
    assert finding.related[0].span.start.line + 1 == 28
    # init_hidden() may return a tuple: no `.detach()` fix is offered
    assert finding.fixes == ()


def test_fix_detaches_factory_made_states_at_the_top_of_the_iteration():
    code = """
    import torch

    def train_epoch(model, batches, optimizer):
        h = torch.zeros(1, 20, 32)
        c = torch.zeros(1, 20, 32)
        for data, targets in batches:
            optimizer.zero_grad()
            output, (h, c) = model.lstm(data, (h, c))
            torch.nn.functional.mse_loss(output, targets).backward()
            optimizer.step()
    """
    (finding,) = only(code, "GG507")
    assert "`h`, `c` are carried" in finding.message
    (fix,) = finding.fixes
    assert fix.safety.value == "unsafe"
    (fixed,) = assert_all_fixes_repair(code, "GG507")
    assert "for data, targets in batches:\n        h, c = h.detach(), c.detach()\n" in fixed


def test_silent_when_the_state_is_detached_or_rebuilt():
    code = """
    import torch

    def repackage_hidden(h):
        if isinstance(h, torch.Tensor):
            return h.detach()
        return tuple(repackage_hidden(v) for v in h)

    def train(model, batches, optimizer, criterion):
        hidden = model.init_hidden(20)
        for data, targets in batches:
            hidden = repackage_hidden(hidden)
            optimizer.zero_grad()
            output, hidden = model(data, hidden)
            criterion(output, targets).backward()
            optimizer.step()

    def train_fresh(model, batches, optimizer, criterion):
        for data, targets in batches:
            hidden = None  # a new state every batch
            output, hidden = model(data, hidden)
            criterion(output, targets).backward()
            optimizer.step()

    def train_in_place(model, batches, optimizer, criterion):
        h = torch.zeros(1, 20, 32)
        for data, targets in batches:
            h.detach_()
            output, h = model.gru(data, h)
            criterion(output, targets).backward(retain_graph=False)
            optimizer.step()

    def train_tbptt(model, batches, optimizer, criterion):
        h = torch.zeros(1, 20, 32)
        for data, targets in batches:
            output, h = model.rnn(data, h)
            criterion(output, targets).backward(retain_graph=True)
    """
    assert only(code, "GG507") == []


def test_a_discarded_detach_does_not_count():
    code = """
    import torch

    class State:
        def __init__(self, h):
            self.h = h

        def detach(self):
            h = self.h.detach()  # rebinds a local only: the state keeps its graph
            return h

    def train(net, batches, optimizer, state):
        for data, targets in batches:
            state.detach()
            output, state = net(data, state)
            output.sum().backward()
            optimizer.step()
    """
    assert lines_of(code, "GG507") == [15]


def test_flags_the_same_loss_backwarded_twice():
    code = """
    import torch
    from torch import nn

    def training_step(model, batch, optimizer, criterion):
        optimizer.zero_grad()
        loss = criterion(model(batch["x"]), batch["y"])
        loss.backward()
        log_gradients(model)
        loss.backward()
        optimizer.step()

    w = torch.ones(3, requires_grad=True)
    total = (w + 1).sum()
    total.backward()
    total.backward()
    """
    findings = only(code, "GG507")
    assert [(f.span.start.line + 1, f.severity.value) for f in findings] == [
        (10, "error"),
        (16, "warning"),
    ]
    assert "already backward-ed at line 8" in findings[0].message
    assert "the gradients double" in findings[1].message
    assert findings[0].fixes == () and findings[1].fixes == ()


def test_flags_backward_repeated_by_a_loop_without_a_new_forward():
    code = """
    import torch

    def unrolled(model, x, optimizer, steps):
        loss = model(x).mean()
        for _ in range(steps):
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    """
    (finding,) = only(code, "GG507")
    assert finding.span.start.line + 1 == 8
    assert "runs in every iteration of this loop" in finding.message


def test_silent_on_retain_graph_fresh_forwards_and_exclusive_branches():
    code = """
    import torch

    def gan_step(netD, netG, real, z, optD, optG, criterion):
        fake = netG(z)
        errD = criterion(netD(real), 1) + criterion(netD(fake.detach()), 0)
        errD.backward()
        optD.step()
        errG = criterion(netD(fake), 1)
        errG.backward()
        optG.step()

    def sam_step(model, x, y, optimizer, criterion):
        loss = criterion(model(x), y)
        loss.backward(retain_graph=True)
        optimizer.first_step()
        loss.backward()
        loss = criterion(model(x), y)  # a fresh forward
        loss.backward()

    def branches(model, x, use_amp, scaler):
        loss = model(x).mean()
        if use_amp:
            scaler.scale(loss).backward()
        else:
            loss.backward()

    def retry(model, x, optimizer):
        loss = model(x).mean()
        for attempt in range(3):
            try:
                loss.backward()
                break
            except RuntimeError:
                continue
    """
    assert only(code, "GG507") == []


def test_silent_in_tests_that_expect_the_error():
    code = """
    import torch
    import unittest

    class TestBackward(unittest.TestCase):
        def test_second_backward_raises(self):
            w = torch.ones(3, requires_grad=True)
            loss = (w * w).sum()
            loss.backward()
            with self.assertRaisesRegex(RuntimeError, "second time"):
                loss.backward()
    """
    assert only(code, "GG507") == []
