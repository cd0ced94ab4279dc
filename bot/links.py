"""Signed, expiring links to the files the bot renders (closure notices, board report, case file).

Teams cannot carry an HTML file in a message without Graph, so the bot serves the rendering itself.
A link names the case, the file and the person it was issued to, is signed with the deployment's
secret, and stops working after `hours`; anyone holding it in that time can read the file, so it is
only ever sent to its person in their 1:1 chat, and every opening is audited in that person's name.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "concerns-bot.file-link.v1"
FILE_NAMES = re.compile(r"^(notice-\d{1,2}\.(html|txt)|board-report\.html|case-file\.(html|json))$")


class LinkExpired(Exception):
    """The link was genuine but is too old."""


class LinkInvalid(Exception):
    """The link was not made by this deployment, or was altered."""


@dataclass(frozen=True)
class FileLink:
    tenant_id: str
    reference: str
    file: str
    user_id: str
    user_name: str


class FileLinks:
    def __init__(self, secret: str, base_url: str, hours: int = 24) -> None:
        # Dev runs without a configured secret: links then last as long as the process.
        self._serializer = URLSafeTimedSerializer(secret or secrets.token_urlsafe(32), salt=SALT)
        self.base_url = base_url.rstrip("/")
        self.max_age = hours * 3600
        self.hours = hours

    def url(self, link: FileLink) -> str:
        if not FILE_NAMES.match(link.file):
            raise ValueError(f"not a file the bot serves: {link.file}")
        token = self._serializer.dumps([link.tenant_id, link.reference, link.file, link.user_id, link.user_name])
        return f"{self.base_url}/files/{token}/{link.file}"

    def read(self, token: str, file: str) -> FileLink:
        try:
            tenant_id, reference, signed_file, user_id, user_name = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise LinkExpired("This link has expired. Ask the bot for a new one.") from None
        except (BadSignature, ValueError, TypeError):
            raise LinkInvalid("This link is not valid.") from None
        if signed_file != file:
            raise LinkInvalid("This link is not valid.")
        return FileLink(tenant_id, reference, signed_file, user_id, user_name)
