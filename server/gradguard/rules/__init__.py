"""The rule registry: every ``ggNNN_*.py`` module in this package defines ``RULE``."""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache

from gradguard.rules.base import Rule

_RULE_MODULE = re.compile(r"^gg\d{3}_\w+$")


@cache
def all_rules() -> tuple[Rule, ...]:
    rules = []
    for module_info in pkgutil.iter_modules(__path__):
        if _RULE_MODULE.match(module_info.name):
            module = importlib.import_module(f"{__name__}.{module_info.name}")
            rules.append(module.RULE)
    return tuple(sorted(rules, key=lambda rule: rule.code))


def rules_by_code() -> dict[str, Rule]:
    return {rule.code: rule for rule in all_rules()}


def get_rule(code_or_name: str) -> Rule | None:
    wanted = code_or_name.strip()
    for rule in all_rules():
        if wanted.upper() == rule.code or wanted.lower() == rule.name:
            return rule
    return None
