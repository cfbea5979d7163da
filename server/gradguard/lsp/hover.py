"""Hover texts: rule explanations, noqa codes, optimizer and model variables.

Everything comes from the cached snapshot of the document's current version
(the rule docs are the rules' own docstrings); nothing here re-runs the rules.
"""

from __future__ import annotations

import logging
import time

from lsprotocol import types

from gradguard.analysis.resolution import SymbolKind
from gradguard.docs import doc_url, render_rule_page
from gradguard.findings import Finding, Position, Span
from gradguard.lsp.bindings import is_module_kind
from gradguard.lsp.snapshot import Snapshot
from gradguard.lsp.symbols import ModelInfo, OptimizerInfo, SymbolIndex, index_of
from gradguard.noqa import noqa_codes_at
from gradguard.rules import get_rule

log = logging.getLogger(__name__)

# The parts of a rule's doc a hover shows: what PyTorch does, why, the fix.
DESCRIBE_BUDGET_S = 3.0
HOVER_SECTIONS = ("Why is this bad?", "What PyTorch does", "Use instead", "Fix safety")


def noqa_code_at(snapshot: Snapshot, position: Position) -> tuple[str, Span] | None:
    """The ``GGxxx`` under the cursor inside a ``# noqa`` comment, if any (the
    comments come from the snapshot's cached map, read for this one line)."""
    for comment in snapshot.noqa_comments_on(position.line):
        for start, end, code in noqa_codes_at(comment.text):
            span = Span(
                Position(comment.line, comment.column + start),
                Position(comment.line, comment.column + end),
            )
            if span.start <= position <= span.end:
                return code, span
    return None


def noqa_markdown(code: str) -> str:
    rule = get_rule(code)
    if rule is None:
        return f"`{code}` is not a GradGuard rule code: this part of the comment silences nothing."
    return render_rule_page(rule) + f"\n[Documentation]({doc_url(rule.code)})\n"


def finding_markdown(finding: Finding) -> str:
    rule = get_rule(finding.code)
    lines = [
        f"**GradGuard {finding.code}** `{finding.name}` ({finding.severity.value})",
        "",
        finding.message,
        "",
    ]
    if rule is not None:
        shown = [s for s in HOVER_SECTIONS if s in rule.sections]
        if shown:
            for section in shown:
                lines += [f"#### {section}", "", rule.sections[section], ""]
        else:
            lines += [rule.doc.strip(), ""]
    if finding.fixes:
        lines.append(
            "Fixes: " + "; ".join(f"{fix.title} ({fix.safety.value})" for fix in finding.fixes)
        )
        lines.append("")
    lines.append(f"[Documentation]({doc_url(finding.code)})")
    return "\n".join(lines)


def optimizer_markdown(snapshot: Snapshot, info: OptimizerInfo) -> str:
    where = snapshot.describe_line(info.line)
    built = (
        f"built at {where} from `{info.params_text}`" if info.params_text else f"built at {where}"
    )
    sentence = f"`{info.name}`: `{info.constructor}` optimizer, {built}"
    if info.replacements:
        parts = [
            f"`{r.what}` replaced at {snapshot.describe_line(r.line)} is not in it"
            for r in info.replacements
        ]
        sentence += "; " + "; ".join(parts) + " (its new parameters are never trained)"
    elif info.models:
        sentence += "; it trains the parameters of " + ", ".join(f"`{m}`" for m in info.models)
    return sentence + "."


def model_markdown(
    snapshot: Snapshot, info: ModelInfo, description: str | None, kind: SymbolKind | None
) -> str:
    lines = [_model_value(snapshot, info, kind)]
    if kind is SymbolKind.MODULE_FACTORY:
        pass  # the description of a factory is not one of the module's class
    elif info.local_class_line is not None:
        lines.append(
            f"class `{info.class_text}` is defined at "
            f"{snapshot.describe_line(info.local_class_line)} of this file"
        )
    elif description:
        lines.append(description)
    elif info.qualified and info.qualified.startswith("torch."):
        lines.append("a PyTorch module")
    if info.optimizers:
        held = ", ".join(f"`{o.name}` ({snapshot.describe_line(o.line)})" for o in info.optimizers)
        lines.append(f"optimizers holding its parameters: {held}")
    else:
        lines.append("no optimizer in this file holds its parameters")
    return "\n\n".join(lines)


def _model_value(snapshot: Snapshot, info: ModelInfo, kind: SymbolKind | None) -> str:
    """What the variable holds: an instance of the class called, or of the class the
    factory is seen to return; of a factory whose class the file does not show, no
    class at all (a function is never called a class)."""
    if kind is not SymbolKind.MODULE_FACTORY:
        return f"`{info.name}`: instance of `{info.qualified or info.class_text}`"
    factory = f"`{info.qualified or info.class_text}()`"
    if info.factory_line is not None:
        factory += f" ({snapshot.describe_line(info.factory_line)})"
    if info.returned:
        return f"`{info.name}`: instance of `{info.returned}`, returned by {factory}"
    return f"`{info.name}`: a module returned by {factory} (its class is not known here)"


def ask_resolver(snapshot: Snapshot, info: ModelInfo) -> tuple[SymbolKind | None, str | None]:
    """(module kind or None, description) for a name imported from elsewhere, asking
    the resolver (jedi) on this worker thread. The resolver answers from its cache or
    waits briefly; a hover may wait a little longer than a keystroke would."""
    kind = info.kind if info.confirmed else None
    resolver = snapshot.context.resolver
    if info.local_class_line is not None or not info.qualified or resolver is None:
        return kind, None
    if info.qualified.startswith("torch."):
        return kind, None
    describe = getattr(resolver, "describe_class", None)
    deadline = time.monotonic() + DESCRIBE_BUDGET_S
    description = None
    while True:
        try:
            if kind is None:
                answer = resolver.classify(info.qualified, snapshot.target.path)
                kind = answer if is_module_kind(answer) else None
            if description is None and callable(describe) and kind is not SymbolKind.MODULE_FACTORY:
                text = describe(info.qualified, snapshot.target.path)
                description = str(text) if text else None
        except Exception:
            log.warning("resolving %s failed", info.qualified, exc_info=True)
            return kind, description
        done = kind is SymbolKind.MODULE_FACTORY or (kind is not None and description)
        if done or time.monotonic() >= deadline:
            return kind, description
        time.sleep(0.05)


def symbol_hover(snapshot: Snapshot, where: Position) -> tuple[str, Span] | None:
    """Markdown and program span for the variable under the cursor (worker thread)."""
    index: SymbolIndex = index_of(snapshot)
    found = index.name_at(where)
    if found is None:
        return None
    name, span, node = found
    optimizer = index.optimizer(name, node, where.line)
    if optimizer is not None:
        return _alias(name, optimizer.name) + optimizer_markdown(snapshot, optimizer), span
    model = index.model(name, node, where.line)
    if model is not None:
        kind, description = ask_resolver(snapshot, model)
        if kind is not None:
            text = model_markdown(snapshot, model, description, kind)
            return _alias(name, model.name) + text, span
    return None


def _alias(name: str, bound: str) -> str:
    """``o = optimizer``: the hover on ``o`` says whose object it holds."""
    return "" if name == bound else f"`{name}` holds the same object as `{bound}`:\n\n"


def markup(text: str) -> types.MarkupContent:
    return types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)


def hover_text(snapshot: Snapshot, where: Position) -> tuple[str, Span] | None:
    """Runs on a worker thread: noqa code, then findings, then variables."""
    code = noqa_code_at(snapshot, where)
    if code is not None:
        return noqa_markdown(code[0]), code[1]
    findings = [f for f in snapshot.result.findings if f.span.contains(where)]
    if findings:
        text = "\n\n---\n\n".join(finding_markdown(f) for f in findings)
        return text, findings[0].span
    return symbol_hover(snapshot, where)


def response(snapshot: Snapshot, uri: str, text: str, span: Span) -> types.Hover:
    """The hover, with the range of ``span`` when it lies in the hovered document."""
    located = snapshot.locate(span)
    if located is None or located[0].uri != uri:
        return types.Hover(contents=markup(text))
    view, local = located
    return types.Hover(contents=markup(text), range=snapshot.line_map(view).range_to_lsp(local))
