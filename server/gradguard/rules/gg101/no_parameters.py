"""Placeholder."""

from __future__ import annotations

from collections.abc import Iterator

from gradguard.analysis.optimizers import OptimizerCreation
from gradguard.findings import Finding
from gradguard.rules.gg101.base import Checker


def check(checker: Checker, creation: OptimizerCreation) -> Iterator[Finding]:
    return iter(())
