"""A case's documents register and communication checklist answers."""

from __future__ import annotations

from storage.repositories import _Repository


class SqlDocumentRepository(_Repository):
    pass
