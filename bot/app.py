"""The aiohttp application: /api/messages for Teams, health checks, metrics."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import devclock, files
from bot.handler import ConcernsBot
from bot.links import FileLinks
from bot.scheduling import build_sweeper
from bot.settings import BotFrameworkConfig, ConfigurationError, Settings
from bot.state import FormStore, SqlStorage
from bot.turn import BotServices
from concerns.clock import Clock, SystemClock
from concerns.packs import ProcedurePack, default_packs_dir, load_packs
from scheduler import jobs
from scheduler.sweep import Sweeper
from storage.db import create_engine, session_factory
from storage.kv import DocumentStore
from storage.migrate import upgrade
from storage.uow import SqlUnitOfWork

log = logging.getLogger(__name__)

ENGINE = web.AppKey("engine", AsyncEngine)
SERVICES = files.SERVICES
ADAPTER = web.AppKey("adapter", CloudAdapter)
BOT = web.AppKey("bot", ConcernsBot)
METRICS = web.AppKey("metrics", dict)
SWEEPER = web.AppKey("sweeper", Sweeper)

# Teams activities are a few kB; a card submit with a long description stays well under this.
MAX_BODY_BYTES = 512 * 1024


def init_app(settings: Settings, *, clock: Clock | None = None, migrate: bool | None = None) -> web.Application:
    """Build the app. Packs are loaded here, so a malformed pack stops start-up at once."""
    packs = load_packs(settings.packs_dir or default_packs_dir())
    if settings.pack_id not in packs:
        raise ConfigurationError(
            f"CONCERNS_PACK={settings.pack_id} is not one of the procedure packs: {', '.join(sorted(packs))}"
        )
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[METRICS] = {"activities_total": 0, "activities_rejected_total": 0, "turn_errors_total": 0}
    if clock is None and settings.dev and not settings.app_id:
        app[devclock.CLOCK] = clock = devclock.AdjustableClock()
        app.router.add_get("/dev/clock", devclock.get_clock)
        app.router.add_post("/dev/clock", devclock.set_clock)
    app.cleanup_ctx.append(_lifecycle(settings, packs, clock or SystemClock(),
                                      settings.dev if migrate is None else migrate))
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/files/{token}/{file}", files.serve)
    return app


def _lifecycle(settings: Settings, packs: dict[str, ProcedurePack], clock: Clock, migrate: bool) -> Any:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if migrate:
            await upgrade(settings.database_url)
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        storage = SqlStorage(DocumentStore(sessions))
        services = BotServices(
            uow=lambda: SqlUnitOfWork(sessions),
            clock=clock,
            forms=FormStore(storage),
            packs=packs,
            app_id=settings.app_id,
            bot_name=settings.bot_name,
            pack_id=settings.pack_id,
            links=FileLinks(settings.link_secret, settings.public_url or f"http://{settings.host}:{settings.port}",
                            settings.link_hours),
        )
        adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(BotFrameworkConfig(settings)))
        adapter.on_turn_error = _turn_error_handler(app)
        app[ENGINE] = engine
        app[SERVICES] = services
        app[ADAPTER] = adapter
        app[BOT] = ConcernsBot(services)
        app[SWEEPER] = build_sweeper(sessions=sessions, uow=services.uow, adapter=adapter, app_id=settings.app_id,
                                     clock=clock, packs=packs, pack=services.pack,
                                     admin_channel=settings.admin_channel)
        scheduler = None
        if settings.scheduler:
            runtime_id = f"app-{id(app)}"
            scheduler = jobs.start(runtime_id, app[SWEEPER], services.pack.reminders)
            log.info("reminder scheduler started: a sweep every minute, the chairs' digest at %s %s on working days",
                     services.pack.reminders.digest_at.strftime("%H:%M"), services.pack.reminders.time_zone)
        yield
        if scheduler is not None:
            jobs.stop(runtime_id, scheduler)
        await engine.dispose()

    return lifecycle


def _turn_error_handler(app: web.Application) -> Any:
    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        incident = uuid.uuid4().hex[:8]
        app[METRICS]["turn_errors_total"] += 1
        log.error("turn failed (incident %s, activity %s)", incident, context.activity.id, exc_info=error)
        if context.activity.type != ActivityTypes.message:
            return
        try:
            await context.send_activity(Activity(
                type=ActivityTypes.message,
                text=f"Sorry, something went wrong on my side and nothing was saved. "
                     f"If it happens again, quote incident {incident}.",
            ))
        except Exception:
            log.exception("could not tell the user about incident %s", incident)

    return on_turn_error


def _activity_problem(body: Any) -> str | None:
    """Say what is wrong with a request body that cannot be an activity, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object (an activity)"
    if not isinstance(body.get("type"), str) or not body["type"]:
        return "the activity has no type"
    if not isinstance(body.get("serviceUrl"), str) or not body["serviceUrl"].startswith(("http://", "https://")):
        return "the activity has no serviceUrl"
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str) or not conversation["id"]:
        return "the activity has no conversation id"
    sender = body.get("from")
    has_sender = isinstance(sender, dict) and isinstance(sender.get("id"), str)
    if body["type"] in ("message", "invoke") and not has_sender:
        return "the activity has no sender"
    for key in ("recipient", "channelData", "entities", "attachments", "membersAdded", "membersRemoved"):
        if key in body and body[key] is not None and not isinstance(body[key], dict | list):
            return f"the activity's {key} is malformed"
    if "text" in body and body["text"] is not None and not isinstance(body["text"], str):
        return "the activity's text must be a string"
    return None


async def messages(request: web.Request) -> web.StreamResponse:
    """Receive one activity from Teams (or the Agents Playground) and run the bot on it."""
    app = request.app
    app[METRICS]["activities_total"] += 1
    if "application/json" not in request.headers.get("Content-Type", ""):
        app[METRICS]["activities_rejected_total"] += 1
        return web.json_response({"error": "send the activity as application/json"}, status=415)
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        app[METRICS]["activities_rejected_total"] += 1
        return web.json_response({"error": "the body is not valid JSON"}, status=400)
    problem = _activity_problem(body)
    if problem is None:
        try:
            Activity().deserialize(body)
        except Exception:
            problem = "the activity does not have the Bot Framework's shape"
    if problem is not None:
        app[METRICS]["activities_rejected_total"] += 1
        return web.json_response({"error": problem}, status=400)
    response = await app[ADAPTER].process(request, app[BOT])
    return response or web.Response(status=201)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the database answers."""
    try:
        async with request.app[ENGINE].connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        log.warning("not ready: database check failed: %s", error)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ready", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    lines = []
    for name, value in request.app[METRICS].items():
        lines.append(f"# TYPE concerns_bot_{name} counter")
        lines.append(f"concerns_bot_{name} {value}")
    # What the scheduler owes: a growing 'dead' or 'pending' count is what an operator alerts on.
    try:
        counts = await request.app[SWEEPER].outbox.counts()
    except Exception:
        log.warning("could not read the outbox for /metrics", exc_info=True)
        counts = None
    if counts is not None:
        lines.append("# TYPE concerns_bot_outbox_messages gauge")
        for status in ("pending", "sending", "sent", "dead"):
            lines.append(f'concerns_bot_outbox_messages{{status="{status}"}} {counts.get(status, 0)}')
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")
