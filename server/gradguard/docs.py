"""Rule documentation pages (``docs/rules/GGNNN.md``) rendered from the rules, and
where a link to one points.

The rule modules' docstrings are the single source; ``python -m gradguard.docs``
rewrites the pages and a test keeps them in agreement. The pages ship inside the
package (``gradguard/rule_docs``, see setup.py), so by default a link is the
``file://`` URI of the installed page; ``docs-url`` in ``[tool.gradguard]`` points
the CLI's links (JSON, SARIF ``helpUri``) at a site instead.
"""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from gradguard import __version__

if TYPE_CHECKING:  # the rules load when a page is needed (the server's start does not)
    from gradguard.rules.base import Rule

# The installed package's copy, then a development checkout's (an editable install).
_PAGE_DIRS = (
    Path(__file__).with_name("rule_docs"),
    Path(__file__).resolve().parents[2] / "docs" / "rules",
)

# Keyed by ``FixAvailability``'s values (a ``str`` enum: its members look these up).
_FIX_TEXT = {
    "always": "Fix is always available.",
    "sometimes": "Fix is sometimes available.",
    "none": "No fix is available.",
}


def all_rules() -> tuple[Rule, ...]:
    from gradguard.rules import all_rules as every_rule

    return every_rule()


#: A rule module's file name (the registry's pattern, :mod:`gradguard.rules`); its
#: first five letters are the rule's code.
_RULE_FILE = re.compile(r"^(gg\d{3})_\w+\.py$")


def rule_codes() -> list[str]:
    """Every rule's code, read from the rule modules' file names: a link to a page
    costs no rule import (a cached ``check`` rerun prints links without analysing)."""
    rules = Path(__file__).with_name("rules")
    try:
        names = [entry.name for entry in rules.iterdir()]
    except OSError:
        names = []
    codes = sorted(m[1].upper() for name in names if (m := _RULE_FILE.match(name)))
    return codes or [rule.code for rule in all_rules()]


@cache
def pages_dir() -> Path:
    """The directory holding ``GGNNN.md`` for every rule of this version."""
    codes = rule_codes()
    for directory in _PAGE_DIRS:
        if all((directory / f"{code}.md").is_file() for code in codes):
            return directory
    # A copy installed without its data files: write the pages once so links still work.
    import tempfile

    directory = Path(tempfile.gettempdir(), f"gradguard-{__version__}-rule-docs")
    write_pages(directory)
    return directory


def doc_url(code: str, base: str | None = None) -> str:
    """The page of ``code``: ``base`` (``docs-url``; ``{code}`` is replaced, else
    ``/GGNNN.md`` is appended) or the packaged page's ``file://`` URI."""
    if not base:
        return (pages_dir() / f"{code}.md").as_uri()
    if "{code}" in base:
        return base.replace("{code}", code)
    return f"{base.rstrip('/')}/{code}.md"


def docs_home(base: str | None = None) -> str:
    """Where the rule pages are: ``base`` itself, or the packaged folder's URI."""
    if base:
        return base.split("{code}")[0]
    return pages_dir().as_uri() + "/"


def rule_info(rule: Rule, base: str | None = None) -> dict[str, str]:
    """A rule for tools (``gradguard rule GG201 --format json``)."""
    return {
        "code": rule.code,
        "name": rule.name,
        "summary": rule.summary,
        "severity": rule.severity.value,
        "fix": rule.fix_availability.value,
        "url": doc_url(rule.code, base),
        "page": render_rule_page(rule),
    }


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
