"""Mixed-precision training, distillation and a recurrent language model: the
training-step hazards (GG305, GG403, GG501-GG508)."""

import torch
from torch import nn
from torch.optim.lr_scheduler import OneCycleLR


def train_one_epoch(model, loader, optimizer, scheduler, scaler, accumulation_steps=4):
    model.train()
    for i, (inputs, targets) in enumerate(loader):
        optimizer.zero_grad()
        with torch.autocast("cuda", dtype=torch.float16):
            loss = nn.functional.cross_entropy(model(inputs), targets) / accumulation_steps
        scaler.scale(loss).backward()
        if (i + 1) % accumulation_steps == 0:
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            scheduler.step()
            scaler.step(optimizer)


def finetune(model, loader, optimizer, scaler):
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(inputs), targets)
        scaler.scale(loss).backward()
        optimizer.step()
        scaler.update()


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


def distill(student, teacher, loader, optimizer):
    for inputs, _ in loader:
        optimizer.zero_grad()
        with torch.no_grad():
            soft_targets = teacher(inputs).softmax(dim=-1)
            loss = nn.functional.cross_entropy(student(inputs), soft_targets)
        loss.backward()
        optimizer.step()


def train_language_model(model, batches, optimizer):
    hidden = torch.zeros(1, 16, 128)
    total_loss = 0.0
    for tokens, targets in batches:
        optimizer.zero_grad()
        output, hidden = model(tokens, hidden)
        loss = nn.functional.cross_entropy(output.flatten(0, 1), targets.flatten())
        loss.backward()
        optimizer.step()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.25)
        total_loss += loss
    return total_loss / len(batches)


def evaluate(model, batches):
    model.eval()
    hidden = torch.zeros(1, 16, 128)
    with torch.no_grad():
        for tokens, targets in batches:
            output, hidden = model(tokens, hidden)
    return output


def main(loader, epochs=3):
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = OneCycleLR(optimizer, max_lr=1e-3, total_steps=epochs * len(loader))
    scaler = torch.amp.GradScaler("cuda")
    for epoch in range(epochs):
        train_one_epoch(model, loader, optimizer, scheduler, scaler)
    finetune(model, loader, optimizer, scaler)
    language_model = LanguageModel()
    lm_optimizer = torch.optim.SGD(language_model.parameters(), lr=20.0)
    for epoch in range(epochs):
        train_language_model(language_model, loader, lm_optimizer)
        evaluate(language_model, loader)
