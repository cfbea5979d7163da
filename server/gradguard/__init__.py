"""GradGuard: finds optimizer, parameter and gradient bugs in PyTorch code."""

__version__ = "0.1.0"
