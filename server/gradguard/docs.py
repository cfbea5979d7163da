"""Rule documentation pages (``docs/rules/GGNNN.md``) rendered from the rules.

The rule modules' docstrings are the single source; ``python -m gradguard.docs``
rewrites the pages and a test keeps them in agreement.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gradguard.rules import all_rules
from gradguard.rules.base import FixAvailability, Rule

DOCS_URL = "https://github.com/gradguard/gradguard/blob/main/docs/rules/{code}.md"

_FIX_TEXT = {
    FixAvailability.ALWAYS: "Fix is always available.",
    FixAvailability.SOMETIMES: "Fix is sometimes available.",
    FixAvailability.NONE: "No fix is available.",
}


def doc_url(code: str) -> str:
    return DOCS_URL.format(code=code)


def render_rule_page(rule: Rule) -> str:
    header = (
        f"# {rule.code} `{rule.name}`\n\n"
        f"{rule.summary}.\n\n"
        f"Default severity: **{rule.severity.value}**. {_FIX_TEXT[rule.fix_availability]}\n\n"
    )
    return header + rule.doc.strip() + "\n"


def write_pages(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for rule in all_rules():
        path = directory / f"{rule.code}.md"
        path.write_text(render_rule_page(rule), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/rules")
    for page in write_pages(target):
        print(page)
