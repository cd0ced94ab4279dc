"""Meetings of a case."""

from __future__ import annotations

from storage.repositories import _Repository


class SqlMeetingRepository(_Repository):
    pass
