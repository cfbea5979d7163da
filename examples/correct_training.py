"""The same kind of script, written correctly: GradGuard reports nothing here."""

import torch
from torch import nn, optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
        self.head = nn.Linear(8, 2, bias=False)

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.head(x)


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


model = Net()
model.apply(init_weights)
model.head = nn.Linear(8, 3)
model.to("cpu")
optimizer = optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()

for step in range(10):
    inputs, targets = torch.randn(4, 8), torch.randint(0, 3, (4,))
    optimizer.zero_grad()
    loss = criterion(model(inputs), targets)
    loss.backward()
    for p in model.parameters():
        if p.grad is not None:
            p.grad.clamp_(-1, 1)
    optimizer.step()


def train_amp(model, loader, epochs=2, accumulation_steps=2):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=1e-3, total_steps=epochs * len(loader)
    )
    scaler = torch.amp.GradScaler("cpu")
    for epoch in range(epochs):
        model.train()
        for i, (inputs, targets) in enumerate(loader):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = nn.functional.cross_entropy(model(inputs), targets) / accumulation_steps
            scaler.scale(loss).backward()
            if (i + 1) % accumulation_steps == 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad()
                scheduler.step()


def distill(student, teacher, loader, optimizer):
    for inputs, _ in loader:
        optimizer.zero_grad()
        with torch.no_grad():
            soft_targets = teacher(inputs).softmax(dim=-1)
        loss = nn.functional.cross_entropy(student(inputs), soft_targets)
        loss.backward()
        optimizer.step()


class LanguageModel(nn.Module):
    def __init__(self, vocab_size=1000, hidden_size=128):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.rnn = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(0.2)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, hidden):
        output, hidden = self.rnn(self.embedding(tokens), hidden)
        return self.decoder(self.dropout(output)), hidden


def train_language_model(model, batches, optimizer):
    model.train()
    hidden = torch.zeros(1, 16, 128)
    total_loss = 0.0
    for tokens, targets in batches:
        hidden = hidden.detach()
        optimizer.zero_grad()
        output, hidden = model(tokens, hidden)
        loss = nn.functional.cross_entropy(output.flatten(0, 1), targets.flatten())
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.25)
        optimizer.step()
        total_loss += loss.item()
    return total_loss / len(batches)


def evaluate(model, batches):
    model.eval()
    hidden = torch.zeros(1, 16, 128)
    total_loss = 0.0
    with torch.no_grad():
        for tokens, targets in batches:
            output, hidden = model(tokens, hidden)
            total_loss += nn.functional.cross_entropy(output.flatten(0, 1), targets.flatten())
    return total_loss / len(batches)


def fit_language_model(batches, epochs=3):
    language_model = LanguageModel()
    lm_optimizer = torch.optim.SGD(language_model.parameters(), lr=20.0)
    for epoch in range(epochs):
        train_language_model(language_model, batches, lm_optimizer)
        print(epoch, evaluate(language_model, batches))
