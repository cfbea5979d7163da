"""``# noqa`` and ``# gradguard: noqa`` suppression comments."""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from gradguard.findings import Finding

_LINE_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+\d+(?:[\s,]+[A-Z]+\d+)*))?", re.IGNORECASE)
_FILE_NOQA = re.compile(
    r"^#\s*gradguard:\s*noqa(?::\s*(?P<codes>[A-Z]+\d+(?:[\s,]+[A-Z]+\d+)*))?\s*$", re.IGNORECASE
)
_CODE = re.compile(r"[A-Z]+\d+", re.IGNORECASE)
ALL = frozenset({"*"})


@dataclass
class Suppressions:
    # 0-based line -> codes silenced there ({"*"} for a bare noqa).
    lines: dict[int, frozenset[str]] = field(default_factory=dict)
    file_codes: frozenset[str] = frozenset()

    def silences(self, finding: Finding) -> bool:
        if "*" in self.file_codes or finding.code in self.file_codes:
            return True
        codes = self.lines.get(finding.span.start.line)
        return codes is not None and ("*" in codes or finding.code in codes)


@dataclass(frozen=True)
class NoqaComment:
    line: int
    column: int  # where the comment's ``#`` starts (code points)
    text: str
    own_line: bool


def comments(text: str) -> list[NoqaComment]:
    """Every comment of a file that tokenizes; comments seen so far otherwise."""
    found: list[NoqaComment] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                own_line = not token.line[: token.start[1]].strip()
                found.append(
                    NoqaComment(token.start[0] - 1, token.start[1], token.string, own_line)
                )
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return found


def parse_suppressions(text: str) -> Suppressions:
    result = Suppressions()
    file_codes: set[str] = set()
    for comment in comments(text):
        file_match = _FILE_NOQA.match(comment.text) if comment.own_line else None
        if file_match:
            file_codes |= _codes(file_match.group("codes"))
            continue
        line_match = _LINE_NOQA.search(comment.text)
        if line_match and "gradguard:" not in comment.text[: line_match.start()].lower():
            result.lines[comment.line] = result.lines.get(comment.line, frozenset()) | _codes(
                line_match.group("codes")
            )
    result.file_codes = frozenset(file_codes)
    return result


def _codes(raw: str | None) -> frozenset[str]:
    if not raw:
        return ALL
    return frozenset(code.upper() for code in _CODE.findall(raw))


def noqa_codes_at(comment_text: str) -> list[tuple[int, int, str]]:
    """(start, end, code) of each code inside a noqa comment, for hovers."""
    match = _LINE_NOQA.search(comment_text) or _FILE_NOQA.match(comment_text)
    if not match or not match.group("codes"):
        return []
    offset = match.start("codes")
    return [
        (offset + m.start(), offset + m.end(), m.group().upper())
        for m in _CODE.finditer(match.group("codes"))
    ]
