"""The documents the bot writes from a case file: closure notices (HTML and plain text), the
Safeguarding Adults Board summary report, and the full case file export (HTML and JSON).

HTML is autoescaped, so nothing typed into a card can become markup in a letter. None of these
name an individual adult: the case file holds only whether one was involved, never the reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from concerns.clock import UK
from concerns.closure import CaseFile
from concerns.vocabulary import Category, CommissioningStatus, SourceAgency, counted

TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = _day
    env.filters["when"] = _when
    env.filters["counted"] = counted
    env.filters["percent"] = lambda share: "n/a" if share is None else f"{share:.0%}"
    return env


def _day(value: date | datetime | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        value = value.astimezone(UK).date()
    return f"{value:%A %-d %B %Y}"


def _when(value: datetime | None) -> str:
    return "-" if value is None else f"{value.astimezone(UK):%-d %b %Y %H:%M}"


def status_label(status: CommissioningStatus) -> str:
    return status.value.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Facts:
    """The case facts every document repeats, worked out once."""

    file: CaseFile
    highest_level: str
    final_level: str
    chair: str
    coordinator: str

    @classmethod
    def of(cls, file: CaseFile) -> Facts:
        pack, case = file.pack, file.case
        confirmed = [level for _, level in file.levels_over_time]
        ranks = {item.id: item for item in pack.levels.items}
        highest = max((ranks[level] for level in confirmed if level in ranks), key=lambda item: item.rank,
                      default=None)
        chair = case.holder_name("chair")
        coordinator = case.holder_name("coordinator")
        return cls(file, highest.label if highest else "No level was agreed",
                   ranks[case.level].label if case.level in ranks else "No level was agreed", chair, coordinator)


def _context(file: CaseFile, **extra: Any) -> dict[str, Any]:
    facts = Facts.of(file)
    pack = file.pack
    return {
        "file": file, "case": file.case, "pack": pack, "facts": facts,
        "status": status_label(file.case.provider.commissioning_status),
        "step_name": lambda step_id: pack.step(step_id).name,
        "level_label": lambda level_id: pack.level(level_id).label if level_id else "not set",
        "role_label": lambda role_id: pack.role(role_id).label,
        "category_label": lambda value: Category(value).label,
        "source_label": lambda value: SourceAgency(value).label,
        **extra,
    }


def closure_notice(file: CaseFile, recipient_index: int, fmt: str) -> str:
    """The written notice of closure to one of the pack's recipients (the provider, the CQC...)."""
    recipients = file.pack.closure.notice_recipients
    if not 0 <= recipient_index < len(recipients):
        raise KeyError(recipient_index)
    return _environment().get_template(f"closure_notice.{fmt}.j2").render(
        _context(file, recipient=recipients[recipient_index]))


def board_report(file: CaseFile) -> str:
    return _environment().get_template("board_report.html.j2").render(_context(file))


def case_file_html(file: CaseFile) -> str:
    return _environment().get_template("case_file.html.j2").render(_context(file))


def case_file_json(file: CaseFile) -> str:
    return json.dumps(case_file_data(file), indent=2, ensure_ascii=False)


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _plain(item: Any) -> Any:
    """A meeting or document record (whatever dataclass its module uses) as JSON-ready data."""
    from dataclasses import fields, is_dataclass

    if is_dataclass(item) and not isinstance(item, type):
        return {f.name: _plain(getattr(item, f.name)) for f in fields(item)}
    if isinstance(item, date | datetime):
        return item.isoformat()
    if isinstance(item, list | tuple):
        return [_plain(x) for x in item]
    if isinstance(item, dict):
        return {str(k): _plain(v) for k, v in item.items()}
    if hasattr(item, "value") and isinstance(item.value, str):
        return item.value
    return item


def case_file_data(file: CaseFile) -> dict[str, Any]:
    case, pack = file.case, file.pack
    timeliness = file.timeliness
    return {
        "case": {
            "reference": case.reference, "status": case.status.value, "provider": case.provider.name,
            "service_type": case.provider.service_type.value,
            "commissioning_status": case.provider.commissioning_status.value,
            "procedure": f"{pack.id}@{case.pack_version}", "lead_agency": case.lead_agency.value,
            "level": case.level, "step": case.step, "opened_at": _iso(case.opened_at),
            "opened_by": case.opened_by.name, "closed_at": _iso(case.closed_at), "closed_by": case.closed_by,
            "outcome": case.closure_outcome, "closure_override_reason": case.closure_override_reason,
            "members": [{"name": m.name, "role": m.role.value} for m in case.members],
        },
        "concerns": [{
            "reference": c.reference, "raised_at": _iso(c.raised_at), "occurred_on": _iso(c.occurred_on),
            "categories": [x.value for x in c.categories], "source_agency": c.source_agency.value,
            "description": c.description, "immediate_risk": c.immediate_risk,
            "individual_involved": c.individual_reference is not None,
            "screening_outcome": c.screening_outcome.value if c.screening_outcome else None,
        } for c in file.concerns],
        "steps": [{"step": s.step, "entered_at": _iso(s.entered_at), "entered_by": s.entered_by,
                   "override_reason": s.override_reason} for s in file.steps],
        "votes": [{
            "started_at": _iso(v.started_at), "status": v.status, "closed_at": _iso(v.closed_at),
            "confirmed_level": v.confirmed_level, "rationale": v.rationale, "justification": v.justification,
            "ballots": [{"name": b.name, "level": b.level, "reason": b.reason, "dissent": b.dissent_reason}
                        for b in v.ballots],
        } for v in file.votes],
        "actions": [{
            "id": a.id, "source": a.source, "title": a.title, "owner_role": a.owner_role,
            "owner": a.owner.name if a.owner else None, "due_on": _iso(a.due_on),
            "original_due_on": _iso(a.original_due_on), "required": a.required, "status": a.status,
            "note": a.note, "closed_at": _iso(a.closed_at), "closed_by": a.closed_by,
        } for a in file.actions],
        "timeliness": {"on_time": timeliness.on_time, "late": timeliness.late,
                       "not_applicable": timeliness.not_applicable, "open_overdue": timeliness.open_overdue,
                       "open_in_time": timeliness.open_in_time, "closed_with_case": timeliness.closed_with_case},
        "meetings": [_plain(m) for m in file.meetings],
        "documents": [_plain(d) for d in file.documents],
        "communication": [_plain(a) for a in file.communication],
        "lessons": [{"name": f.name, "went_well": f.went_well, "do_differently": f.do_differently,
                     "given_at": _iso(f.given_at)} for f in file.lessons],
        "timeline": [{"at": _iso(e.occurred_at), "by": e.actor_name, "action": e.action,
                      "subject": f"{e.subject_type} {e.subject_ref}", "details": e.details} for e in file.events],
    }
