"""The project's model-surgery helpers, as methods of a small class."""

from torch import nn


class Surgeon:
    def __init__(self, num_classes):
        self.num_classes = num_classes

    def replace_head(self, model):
        model.classifier = nn.Linear(model.classifier.in_features, self.num_classes)
        return model

    def describe(self, model):
        return f"{type(model).__name__} -> {model.classifier.out_features} classes"
