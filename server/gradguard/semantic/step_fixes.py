"""Edits the training-step rules offer: on a call that is a statement of its own."""

from __future__ import annotations

import ast

from gradguard.analysis import edits
from gradguard.findings import TextEdit
from gradguard.semantic.step_events import StepEvent
from gradguard.source import SourceFile


def own_statement(source: SourceFile, event: StepEvent) -> ast.Expr | None:
    """The ``call()`` statement of an event the analysed scope itself makes, when the
    call is the whole statement and owns its lines (not inside a helper, not ``a; b``)."""
    statement = event.statement
    if event.via_helper or not isinstance(statement, ast.Expr):
        return None
    if statement.value is not event.call or not edits.owns_its_lines(source, statement):
        return None
    return statement


def insert_after(source: SourceFile, anchor: ast.stmt, code: str) -> TextEdit | None:
    return edits.insert_statements_after(source, anchor, [code])


def insert_before(source: SourceFile, anchor: ast.stmt, code: str) -> TextEdit | None:
    if not edits.owns_its_lines(source, anchor):
        return None
    indentation = source.indentation_of(edits.first_line(anchor))
    return edits.insert_before_edit(source, anchor, indentation + code + source.newline)


def remove(
    source: SourceFile, statement: ast.stmt, block: list[ast.stmt] | None
) -> TextEdit | None:
    return edits.removal_edit(source, statement, block) if block is not None else None


def root_of(name: str) -> str:
    return name.split(".", 1)[0]
