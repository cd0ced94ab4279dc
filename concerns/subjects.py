"""Subject access and erasure for one individual adult, known here only by a pseudonymous reference.

PROCEDURE.md "Data protection": what is held about an individual is exportable for a subject access
request, and erasable when the law requires. The individual appears only as `individual_reference` on
concerns (and in a form draft someone was typing), so the export gathers those concerns with their
screenings, the cases they are linked to, and the audit events about them; erasure removes the
reference and replaces the concerns' free text, which may describe the person.

The audit trail names no individual: the export and erasure events name the concern references only.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from concerns.clock import Clock
from concerns.model import Actor, AuditEvent

if TYPE_CHECKING:  # the ports name this module's types
    from concerns.ports import UnitOfWork

ERASED = "[erased at the individual's request]"
MAX_REFERENCE = 64  # longer than the form allows (32), so a reference stored under older rules is still found


class BadReference(ValueError):
    """Not something that can be an individual reference; the message says why."""


def clean_reference(text: str) -> str:
    """The reference as asked for, trimmed; matching ignores case, as people retype references."""
    reference = text.strip()
    if not reference:
        raise BadReference("give the individual's reference, e.g. LAS-104233")
    if len(reference) > MAX_REFERENCE or any(c.isspace() or not c.isprintable() for c in reference):
        raise BadReference(f"{reference[:MAX_REFERENCE]!r} is not an individual reference (no spaces, at most "
                           f"{MAX_REFERENCE} characters)")
    return reference


def file_stem(reference: str) -> str:
    """`subject-REFERENCE`, safe as a file name: a reference may hold '/', which must not become a folder."""
    return "subject-" + re.sub(r"[^A-Za-z0-9._-]", "_", reference)


@dataclass(frozen=True)
class SubjectConcern:
    """A concern naming the individual, with every stored field, as plain values."""

    tenant_id: str
    reference: str
    fields: dict[str, Any]
    screenings: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)  # reference, provider, level, status, dates
    events: list[dict[str, Any]] = field(default_factory=list)  # audit events about the concern


@dataclass(frozen=True)
class StoredDraft:
    """A stored form or dialog state that holds the reference (someone was typing it)."""

    key: str
    updated_at: datetime
    content: Any


@dataclass(frozen=True)
class SubjectFile:
    """Everything held about one individual reference."""

    reference: str
    generated_at: datetime
    concerns: tuple[SubjectConcern, ...]
    drafts: tuple[StoredDraft, ...]

    @property
    def empty(self) -> bool:
        return not self.concerns and not self.drafts

    @property
    def screening_count(self) -> int:
        return sum(len(c.screenings) for c in self.concerns)


@dataclass(frozen=True)
class Erasure:
    """What an erasure changed: the concerns (tenant, reference), their screenings, the drafts deleted."""

    concerns: tuple[tuple[str, str], ...]
    screenings: int
    drafts: int

    @property
    def empty(self) -> bool:
        return not self.concerns and not self.drafts


# Details of audit events that carry what someone typed (see SECURITY.md, "Retention and the audit trail").
# Not "outcome": on a concern's events it is a screening outcome, a word from the vocabulary.
TYPED_DETAILS = ("rationale", "rescreen_reason", "reason", "note", "justification", "dissent", "override_reason",
                 "went_well", "do_differently", "decisions", "venue", "late_reason",
                 "short_notice_reason")


def typed_audit_details(file: SubjectFile) -> list[tuple[str, str, list[str]]]:
    """Audit events about the subject's concerns whose details hold typed text: (concern, action, keys).

    The audit trail is append-only, so neither erasure nor retention can change them; the operator is told.
    """
    found = []
    for concern in file.concerns:
        for event in concern.events:
            details = event.get("details") or {}
            keys = [k for k in TYPED_DETAILS if isinstance(details.get(k), str | list) and details.get(k)]
            if keys:
                found.append((concern.reference, str(event.get("action")), keys))
    return found


async def subject_file(uow: UnitOfWork, clock: Clock, reference: str) -> SubjectFile:
    """Gather everything held about the reference (reading only)."""
    reference = clean_reference(reference)
    async with uow:
        concerns = await uow.subjects.concerns_naming(reference)
        drafts = await uow.subjects.drafts_naming(reference)
    return SubjectFile(reference, clock.now(), tuple(concerns), tuple(drafts))


async def record_export(uow: UnitOfWork, clock: Clock, actor: Actor, file: SubjectFile) -> None:
    """Audit an export: an event on each concern exported, naming concern references only."""
    async with uow:
        for event in _events(clock, actor, "subject.exported", [(c.tenant_id, c.reference) for c in file.concerns],
                             drafts=len(file.drafts), formats=["json", "html"]):
            await uow.audit.record(event)
        await uow.commit()


async def erase_subject(uow: UnitOfWork, clock: Clock, actor: Actor, reference: str) -> Erasure:
    """Remove the reference from its concerns and replace their free text, in one audited transaction."""
    reference = clean_reference(reference)
    async with uow:
        erasure = await uow.subjects.erase(reference, ERASED)
        if erasure.empty:
            return erasure
        for event in _events(clock, actor, "subject.erased", list(erasure.concerns), drafts=erasure.drafts,
                             screenings=erasure.screenings,
                             erased=["individual_reference", "description", "screening rationale"]):
            await uow.audit.record(event)
        await uow.commit()
    return erasure


def _events(clock: Clock, actor: Actor, action: str, concerns: list[tuple[str, str]],
            **details: Any) -> list[AuditEvent]:
    """One event per concern, in its own tenant; drafts alone get one event about the form state."""
    now = clock.now()
    by_tenant: dict[str, list[str]] = {}
    for tenant, reference in concerns:
        by_tenant.setdefault(tenant, []).append(reference)

    def event(tenant: str, subject_type: str, subject_ref: str, refs: list[str]) -> AuditEvent:
        return AuditEvent(occurred_at=now, tenant_id=tenant, actor_id=actor.id, actor_name=actor.name,
                          action=action, subject_type=subject_type, subject_ref=subject_ref, conversation_id=None,
                          details={"concerns": refs, **details})

    events = [event(tenant, "concern", reference, refs) for tenant, refs in by_tenant.items() for reference in refs]
    return events or [event(actor.tenant_id, "form_state", "drafts", [])]


# -- the export ---------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """JSON-ready: dates as ISO text, tuples as lists, keys as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def subject_data(file: SubjectFile) -> dict[str, Any]:
    return plain({
        "subject_access_request": {
            "individual_reference": file.reference,
            "generated_at": file.generated_at,
            "held": {"concerns": len(file.concerns), "screenings": file.screening_count,
                     "cases": len({(c.tenant_id, k["reference"]) for c in file.concerns for k in c.cases}),
                     "audit_events": sum(len(c.events) for c in file.concerns), "form_drafts": len(file.drafts)},
            "note": "Everything the provider concerns bot holds under this reference: the concerns naming it "
                    "(every stored field), their screenings, the cases they are linked to and the audit events "
                    "about them, and any form draft holding it.",
        },
        "concerns": [{**c.fields, "screenings": c.screenings, "cases": c.cases, "audit_events": c.events}
                     for c in file.concerns],
        "form_drafts": [{"key": d.key, "updated_at": d.updated_at, "content": d.content} for d in file.drafts],
    })


def subject_json(file: SubjectFile) -> str:
    return json.dumps(subject_data(file), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


_STYLE = """
  body { font-family: "Segoe UI", Arial, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
         color: #1b1b1b; line-height: 1.45; }
  h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
  h3 { font-size: 1.05rem; }
  table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .9rem; }
  th, td { border: 1px solid #ccc; padding: .3rem .45rem; text-align: left; vertical-align: top; }
  th { background: #f3f3f3; } pre { white-space: pre-wrap; margin: 0; font-size: .85rem; }
  .muted { color: #555; font-size: .9rem; }
"""


def _cell(value: Any) -> str:
    """Every value is escaped here, the one place text enters the page."""
    if value is None:
        return '<span class="muted">-</span>'
    if isinstance(value, dict | list):
        return f"<pre>{html.escape(json.dumps(value, indent=1, ensure_ascii=False))}</pre>"
    return html.escape(str(value)).replace("\n", "<br>")


def _fields(values: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{_cell(k)}</th><td>{_cell(v)}</td></tr>" for k, v in values.items())
    return f"<table>{rows}</table>"


def _table(rows: list[dict[str, Any]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{html.escape(empty)}</p>'
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{_cell(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def subject_html(file: SubjectFile) -> str:
    data = subject_data(file)
    request = data["subject_access_request"]
    parts = [
        "<!doctype html>", '<html lang="en-GB">', "<head>", '<meta charset="utf-8">',
        '<meta name="robots" content="noindex">',
        f"<title>Subject access: {_cell(file.reference)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        f"<h1>Subject access request: {_cell(file.reference)}</h1>",
        f'<p class="muted">{_cell(request["note"])} Generated {_cell(request["generated_at"])}.</p>',
        _fields(request["held"]),
    ]
    for concern in data["concerns"]:
        fields = {k: v for k, v in concern.items() if k not in ("screenings", "cases", "audit_events")}
        parts += [f"<h2>Concern {_cell(concern['reference'])}</h2>", _fields(fields),
                  "<h3>Screenings</h3>", _table(concern["screenings"], "Not screened."),
                  "<h3>Cases</h3>", _table(concern["cases"], "Not linked to a case."),
                  "<h3>Audit events</h3>", _table(concern["audit_events"], "None.")]
    if data["form_drafts"]:
        parts += ["<h2>Form drafts and dialog state</h2>", _table(data["form_drafts"], "")]
    parts += ['<p class="muted">Official-sensitive: personal data for a subject access request.</p>',
              "</body>", "</html>"]
    return "\n".join(parts) + "\n"
