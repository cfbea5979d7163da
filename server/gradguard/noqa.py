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


# -- problems in noqa comments and --add-noqa ----------------------------------------

# A noqa without its colon, or one naming a GradGuard code (maybe unknown).
_SUSPECT = re.compile(r"#\s*noqa(?:\s+[A-Z]+\d|:[^\n]*\bGG\d)", re.IGNORECASE)
_MISSING_COLON = re.compile(r"#\s*noqa\s+(?P<codes>[A-Z]+\d+(?:[\s,]+[A-Z]+\d+)*)", re.IGNORECASE)


def noqa_problems(text: str, known_codes: frozenset[str]) -> list[tuple[int, str]]:
    """(0-based line, message) for each malformed directive or unknown GradGuard code.

    ``# noqa GG301`` (no colon) suppresses everything on its line, as in ruff, and is
    reported so the author can write ``# noqa: GG301``. Codes of other tools
    (``# noqa: E501``) are not ours to judge.
    """
    problems: list[tuple[int, str]] = []
    if not _SUSPECT.search(text):
        return problems  # the usual case: tokenizing again would cost a fifth of a run
    for comment in comments(text):
        missing = _MISSING_COLON.search(comment.text)
        if missing:
            codes = ", ".join(_CODE.findall(missing.group("codes"))).upper()
            problems.append(
                (
                    comment.line,
                    f"`{missing.group().strip()}` has no colon, so it silences every finding on "
                    f"the line (as in ruff); write `# noqa: {codes}` to silence only those",
                )
            )
            continue
        for _start, _end, code in noqa_codes_at(comment.text):
            if code.startswith("GG") and code not in known_codes:
                problems.append((comment.line, f"unknown rule code {code} in a noqa comment"))
    return problems


def noqa_additions(text: str, findings: list[Finding]) -> dict[int, tuple[int, str]]:
    """0-based line -> (column, text to insert) so that every finding's line silences it
    (``  # noqa: GG201`` at the end, or ``, GG201`` after a noqa's codes). Lines whose
    noqa already covers the finding, or that continue with a backslash, are left out."""
    by_line: dict[int, set[str]] = {}
    for finding in findings:
        by_line.setdefault(finding.span.start.line, set()).add(finding.code)
    present = parse_suppressions(text).lines
    lines = text.splitlines()
    additions: dict[int, tuple[int, str]] = {}
    for line, codes in sorted(by_line.items()):
        have = present.get(line, frozenset())
        missing = ", ".join(sorted(codes - have))
        if "*" in have or not missing or line >= len(lines) or lines[line].endswith("\\"):
            continue
        if have:
            last = list(_LINE_NOQA.finditer(lines[line]))[-1]
            additions[line] = (last.end(), f", {missing}")
        else:
            additions[line] = (len(lines[line]), f"  # noqa: {missing}")
    return additions
