"""GET /files/{token}/{file}: the closure notices, board report and case file behind signed links.

The file is rendered from the database when it is opened, so it shows the case as it is now. Each
opening is audited in the name of the person the link was issued to.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web

from bot import reports
from bot.links import LinkExpired, LinkInvalid
from bot.turn import BotServices
from concerns import closure
from concerns.errors import NotFound
from concerns.model import Actor

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", BotServices)

# Rendered case data must not be cached, framed, or sent on as a referrer; the pages need no scripts.
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Robots-Tag": "noindex",
}
NOTICE = re.compile(r"^notice-(\d{1,2})\.(html|txt)$")


def _refusal(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", content_type="text/plain", headers=HEADERS)


async def serve(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    assert services.links is not None
    file = request.match_info["file"]
    try:
        link = services.links.read(request.match_info["token"], file)
    except LinkExpired as expired:
        return _refusal(410, str(expired))
    except LinkInvalid as invalid:
        return _refusal(403, str(invalid))
    try:
        case_file = await closure.case_file(services.uow(), services.clock, services.packs, link.tenant_id,
                                            link.reference)
    except NotFound:
        return _refusal(404, "That case no longer exists.")
    await closure.record_file_access(services.uow(), services.clock,
                                     Actor(link.user_id, link.user_name, link.tenant_id), link.reference, file)
    name = f"{link.reference}-{file}"
    if (notice := NOTICE.match(file)) is not None:
        try:
            body = reports.closure_notice(case_file, int(notice.group(1)), notice.group(2))
        except KeyError:
            return _refusal(404, "There is no such notice.")
        kind = "text/html" if notice.group(2) == "html" else "text/plain"
    elif file == "board-report.html":
        body, kind = reports.board_report(case_file), "text/html"
    elif file == "case-file.html":
        body, kind = reports.case_file_html(case_file), "text/html"
    else:
        body, kind = reports.case_file_json(case_file), "application/json"
    headers = dict(HEADERS)
    disposition = "attachment" if kind == "application/json" else "inline"
    headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    return web.Response(text=body, content_type=kind, charset="utf-8", headers=headers)
