"""Kept for branches that still import the fix-spelling helpers from here; they live in
``analysis/spelling.py``. What this module used to answer (which attributes are
registered parameters) is ``semantic/registered.py``."""

from __future__ import annotations

from gradguard.analysis.spelling import local_name_for, no_grad_call, torch_name

__all__ = ["local_name_for", "no_grad_call", "torch_name"]
