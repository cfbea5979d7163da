import pytest

from gradguard.findings import FixSafety, Severity
from helpers import assert_all_fixes_repair, lines_of, only


def test_flags_optimizer_built_in_each_batch_and_hoists_it():
    code = """
    import torch
    from torch import nn

    model = nn.Linear(4, 1)
    for x, y in data:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        optimizer.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        optimizer.step()
    """
    (finding,) = only(code, "GG103")
    assert finding.severity is Severity.WARNING
    assert finding.span.start.line == 6
    assert finding.span.start.column == 16
    assert "training loop on line 6" in finding.message
    (fix,) = finding.fixes
    assert fix.safety is FixSafety.UNSAFE
    assert fix.title == "Move the optimizer creation above the loop on line 6"
    (fixed,) = assert_all_fixes_repair(code, "GG103")
    assert fixed.splitlines()[5:8] == [
        "optimizer = torch.optim.Adam(model.parameters(), lr=0.01)",
        "for x, y in data:",
        "    optimizer.zero_grad()",
    ]


def test_nested_loops_hoist_above_the_outermost_loop_that_does_not_bind_inputs():
    code = """
    import torch.optim as optim

    def train(model, loader, epochs, lr):
        for epoch in range(epochs):
            for x, y in loader:
                opt = optim.SGD(
                    model.parameters(),
                    lr=lr,
                    momentum=0.9,
                )
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
    """
    assert lines_of(code, "GG103") == [7]
    (fixed,) = assert_all_fixes_repair(code, "GG103")
    assert "\n    opt = optim.SGD(\n        model.parameters(),\n        lr=lr,\n" in fixed
    assert fixed.index("opt = optim.SGD(") < fixed.index("for epoch")


def test_fold_model_outside_inner_loop_hoists_only_above_the_inner_loop():
    code = """
    from torch import optim

    for fold in range(5):
        model = Net()
        for x in loader:
            opt = optim.Adam(model.parameters())
            model(x).sum().backward()
            opt.step()
    """
    (finding,) = only(code, "GG103")
    assert finding.fixes[0].title == "Move the optimizer creation above the loop on line 6"
    (fixed,) = assert_all_fixes_repair(code, "GG103")
    assert "    model = Net()\n    opt = optim.Adam(model.parameters())\n    for x in" in fixed


def test_method_of_a_trainer_class_and_aliases():
    code = """
    from torch.optim import AdamW as W

    class Trainer:
        def fit(self, loader):
            for batch in loader:
                self.optimizer = W(self.model.parameters(), lr=self.lr)
                self.optimizer.zero_grad()
                self.model(batch).backward()
                self.optimizer.step()
    """
    (fixed,) = assert_all_fixes_repair(code, "GG103")
    assert "        self.optimizer = W(self.model.parameters(), lr=self.lr)\n        for batch" in (
        fixed
    )


def test_only_statement_of_its_block_leaves_pass():
    code = """
    import torch
    from torch import optim

    def train(model, loader):
        for x in loader:
            with torch.enable_grad():
                opt = optim.SGD(model.parameters(), lr=0.1)
            model(x).sum().backward()
            opt.step()
    """
    (fixed,) = assert_all_fixes_repair(code, "GG103")
    assert "with torch.enable_grad():\n            pass\n" in fixed


def test_tabs_and_crlf_are_kept():
    code = (
        "import torch\r\ndef train(model, loader):\r\n\tfor x in loader:\r\n"
        "\t\topt = torch.optim.SGD(model.parameters(), lr=0.1)\r\n"
        "\t\tmodel(x).sum().backward()\r\n\t\topt.step()\r\n"
    )
    (fixed,) = assert_all_fixes_repair(code, "GG103")
    assert fixed == (
        "import torch\r\ndef train(model, loader):\r\n"
        "\topt = torch.optim.SGD(model.parameters(), lr=0.1)\r\n\tfor x in loader:\r\n"
        "\t\tmodel(x).sum().backward()\r\n\t\topt.step()\r\n"
    )


@pytest.mark.parametrize(
    "code",
    [
        # lr depends on the loop variable: the finding stays, the move would be wrong.
        """
        from torch import optim
        def train(model, loader):
            for epoch in range(10):
                opt = optim.Adam(model.parameters(), lr=0.001 * 0.9 ** epoch)
                for x in loader:
                    model(x).sum().backward()
                    opt.step()
        """,
        # An input defined only after the loop.
        """
        import torch
        for x in loader:
            opt = torch.optim.SGD(model.parameters(), lr=rate)
            model(x).sum().backward()
            opt.step()
        rate = 0.1
        model = None
        """,
        # Two statements on one line.
        """
        import torch
        def train(model, loader):
            for x in loader:
                opt = torch.optim.SGD(model.parameters(), lr=0.1); opt.zero_grad()
                model(x).sum().backward()
                opt.step()
        """,
        # The target is also assigned elsewhere in the loop.
        """
        import torch
        def train(model, loader):
            for x in loader:
                opt = torch.optim.SGD(model.parameters(), lr=0.1)
                model(x).sum().backward()
                opt.step()
                opt = None
        """,
    ],
)
def test_flagged_without_a_fix(code):
    (finding,) = only(code, "GG103")
    assert finding.fixes == ()


@pytest.mark.parametrize(
    "code",
    [
        # A new model per fold / trial: the optimizer must be new as well.
        """
        from torch import optim
        for fold in range(5):
            model = Net()
            opt = optim.Adam(model.parameters())
            for x in loader:
                model(x).sum().backward()
                opt.step()
        """,
        """
        import torch
        for model in models:
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x in loader:
                model(x).sum().backward()
                opt.step()
        """,
        # Lazy creation guarded by a condition.
        """
        from torch import optim
        opt = None
        for x in loader:
            if opt is None:
                opt = optim.Adam(model.parameters())
            model(x).sum().backward()
            opt.step()
        """,
        """
        import torch
        for i, x in enumerate(loader):
            opt = opt or torch.optim.SGD(model.parameters(), lr=0.1)
            model(x).sum().backward()
            opt.step()
        """,
        # The loop's else block runs once.
        """
        import torch
        for x in loader:
            model(x).sum().backward()
        else:
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            opt.step()
        """,
        # Not a training loop: optimizers for several models.
        """
        import torch
        optimizers = []
        for m in models:
            optimizers.append(torch.optim.SGD(m.parameters(), lr=0.1))
        for name in names:
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            print(name, opt)
        """,
        # Correct program of the same shape.
        """
        import torch
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        for x, y in data:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
        """,
        # The training happens in a nested function, not in this loop.
        """
        import torch
        for lr in (0.1, 0.01):
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            def closure():
                model(x).sum().backward()
            train(model, opt)
        """,
    ],
)
def test_does_not_flag(code):
    assert only(code, "GG103") == []


@pytest.mark.parametrize(
    "code",
    [
        "import torch\nfor x in y:\n    torch.optim.SGD(*a)\n    x.backward()\n",
        "import torch\nwhile True:\n    o = torch.optim.SGD(params=[])\n    o.step()\n",
        "import torch\nfor x in y: o = torch.optim.SGD(p.parameters()); o.step()\n",
        "import torch\nfor x in torch.optim.SGD(m.parameters()):\n    x.step()\n",
    ],
)
def test_odd_shapes_do_not_crash(code):
    for finding in only(code, "GG103"):
        for fix in finding.fixes:
            assert fix.edits


# -- issue 11: an optimizer built in a function the epoch loop calls ----------------------


def test_flags_default_optimizer_that_the_epoch_loop_never_passes():
    code = """
    import torch.nn.functional as F
    from torch import optim

    def train(net, loader, epoch, opt=None):
        if opt is None:
            opt = optim.Adam(
                list(net.encoder.parameters())
                + list(net.decoder.parameters()),
                lr=1e-3,
            )
        net.train()
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
        print(f"epoch {epoch}: {loss.item():.3f}")

    def main(net, loader, epochs):
        for epoch in range(epochs):
            train(net, loader, epoch)
    """
    (finding,) = only(code, "GG103")
    assert finding.span.start.line == 6
    assert finding.message == (
        "`optim.Adam` is constructed in `train()`, which the training loop on line 21 calls on "
        "every iteration, so a new optimizer with empty state (momentum, Adam moments, step "
        "count) replaces the previous one on every iteration; `train()` builds it when `opt` "
        "is None, and this call never passes `opt`"
    )
    (related,) = finding.related
    assert related.span.start.line == 21
    assert finding.fixes == ()


def test_flags_optimizer_built_unconditionally_in_train_one_epoch():
    code = """
    import torch

    def train_one_epoch(model, loader, lr):
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        for inputs, targets in loader:
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(inputs), targets).backward()
            optimizer.step()

    model = torch.nn.Linear(4, 1)
    for epoch in range(10):
        train_one_epoch(model, loader, lr=0.01)
    """
    (finding,) = only(code, "GG103")
    assert finding.span.start.line == 4
    assert "`train_one_epoch()`, which the training loop on line 12" in finding.message
    assert "builds it when" not in finding.message


@pytest.mark.parametrize(
    "code",
    [
        # Every caller passes the optimizer it keeps.
        """
        from torch import optim

        def train(net, loader, epoch, opt=None):
            if opt is None:
                opt = optim.Adam(net.parameters())
            for x in loader:
                net(x).sum().backward()
                opt.step()
            return opt

        opt = optim.Adam(net.parameters())
        for epoch in range(10):
            train(net, loader, epoch, opt)
        """,
        """
        from torch import optim

        def train(net, loader, epoch, opt=None):
            if opt is None:
                opt = optim.Adam(net.parameters())
            for x in loader:
                net(x).sum().backward()
                opt.step()
            return opt

        opt = None
        for epoch in range(10):
            opt = train(net, loader, epoch, opt=opt)
        """,
        # Called once, not by a loop.
        """
        from torch import optim

        def fit(net, loader, epochs):
            opt = optim.SGD(net.parameters(), lr=0.1)
            for epoch in range(epochs):
                for x in loader:
                    net(x).sum().backward()
                    opt.step()

        fit(net, loader, 10)
        """,
        # A sweep: each call trains a new model, or uses another learning rate.
        """
        from torch import optim

        def fit(net, loader, lr):
            opt = optim.SGD(net.parameters(), lr=lr)
            for x in loader:
                net(x).sum().backward()
                opt.step()

        for lr in (0.1, 0.01, 0.001):
            fit(net, loader, lr)
        for seed in range(3):
            net = Net()
            fit(net, loader, 0.1)
        for name, candidate in models.items():
            fit(candidate, loader, 0.1)
        """,
        # The optimizer is kept in a global: built once.
        """
        from torch import optim
        optimizer = None

        def train(net, loader):
            global optimizer
            if optimizer is None:
                optimizer = optim.Adam(net.parameters())
            for x in loader:
                net(x).sum().backward()
                optimizer.step()

        for epoch in range(10):
            train(net, loader)
        """,
        # Only some epochs call it, or the arguments are unknown.
        """
        from torch import optim

        def finetune(net, loader):
            opt = optim.SGD(net.parameters(), lr=0.1)
            for x in loader:
                net(x).sum().backward()
                opt.step()

        for epoch in range(10):
            if epoch % 5 == 0:
                finetune(net, loader)
            finetune(*jobs[epoch])
        """,
        # The function builds the optimizer but never steps it (returns it to the caller).
        """
        from torch import optim

        def make_optimizer(net):
            opt = optim.SGD(net.parameters(), lr=0.1)
            return opt

        for epoch in range(10):
            optimizer = make_optimizer(net)
            net(x).sum().backward()
            optimizer.step()
        """,
    ],
)
def test_does_not_flag_functions_that_keep_or_rebuild_on_purpose(code):
    assert only(code, "GG103") == []
