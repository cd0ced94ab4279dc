"""The aiohttp application: /api/messages for Teams, health checks, metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

import requests
from aiohttp import web
from botbuilder.core import InvokeResponse, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from botframework.connector.auth import AuthenticateRequestResult
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import devclock, files
from bot.connector import ReusingBotFrameworkAuthentication, connector_session
from bot.handler import ConcernsBot
from bot.links import FileLinks
from bot.scheduling import build_sweeper
from bot.settings import BotFrameworkConfig, ConfigurationError, Settings
from bot.state import FormStore, SqlStorage
from bot.teams import actor_of, base_conversation_id, identity_problem, tenant_of
from bot.throttle import Throttle
from bot.turn import BotServices, Turn
from bot.votes import send_privately
from concerns.casework import event
from concerns.clock import Clock, SystemClock
from concerns.model import ConversationKind
from concerns.packs import ProcedurePack, default_packs_dir, load_packs
from scheduler import jobs
from scheduler.delivery import DeliverSoon
from scheduler.sweep import Sweeper
from storage.db import count_work, create_engine, session_factory
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
DELIVER_SOON = web.AppKey("deliver_soon", DeliverSoon)
THROTTLE = web.AppKey("throttle", Throttle)


@dataclass(frozen=True)
class Gate:
    """Who may reach the bot: checked in `messages` before any turn runs."""

    authenticate: bool  # with a Microsoft App ID every request must carry a valid Bot Framework token
    tenants: frozenset[str] | None  # None: any tenant (--dev without CONCERNS_ALLOWED_TENANTS)


GATE = web.AppKey("gate", Gate)

# Teams activities are a few kB; a card submit with a long description stays well under this.
MAX_BODY_BYTES = 512 * 1024
# Teams gives up on an activity after 10-15 s; validating a token normally takes milliseconds, but the
# first one (or one with a new signing key) fetches the OpenID metadata and keys from Microsoft.
AUTH_TIMEOUT_SECONDS = 10
# Invokes a client sends on its own while a person types (typeahead): one per keystroke, and read-only,
# so they are not counted as commands; a person's commands would otherwise be refused after one search.
UNTHROTTLED_INVOKES = frozenset({"application/search", "composeExtension/query"})


def init_app(settings: Settings, *, clock: Clock | None = None, migrate: bool | None = None,
             settle_heap: bool = False) -> web.Application:
    """Build the app. Packs are loaded here, so a malformed pack stops start-up at once.

    `settle_heap` (the serving process: `concerns-bot serve`): once started, see `_settle_heap`."""
    packs = load_packs(settings.packs_dir or default_packs_dir())
    if settings.pack_id not in packs:
        raise ConfigurationError(
            f"CONCERNS_PACK={settings.pack_id} is not one of the procedure packs: {', '.join(sorted(packs))}"
        )
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[METRICS] = {"activities_total": 0, "activities_rejected_total": 0, "activities_unauthenticated_total": 0,
                    "activities_tenant_refused_total": 0, "activities_throttled_total": 0, "turn_errors_total": 0}
    app[GATE] = Gate(authenticate=bool(settings.app_id), tenants=settings.tenant_allow_list())
    if settings.user_rate is not None:
        app[THROTTLE] = Throttle(settings.user_rate)
    if clock is None and settings.dev and not settings.app_id:
        app[devclock.CLOCK] = clock = devclock.AdjustableClock()
        app.router.add_get("/dev/clock", devclock.get_clock)
        app.router.add_post("/dev/clock", devclock.set_clock)
    app.cleanup_ctx.append(_lifecycle(settings, packs, clock or SystemClock(),
                                      settings.dev if migrate is None else migrate))
    if settle_heap:
        app.on_startup.append(_settle_heap)  # after the lifecycle's start: everything it built is there
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/files/{token}/{file}", files.serve)
    return app


async def _settle_heap(_app: web.Application) -> None:
    """Compile every card template now, then move what start-up made out of the cyclic collector's way.

    The libraries leave about 150,000 objects that live as long as the process; a full collection, which
    Python runs now and then as objects pile up, scanned them all: about 60 ms in which every turn in flight
    stood still. Frozen (gc.freeze), they are not scanned; a full collection then looks only at what turns
    made. Reference counting still frees them as before. tests/bot/test_heap.py compares the two.
    """
    from bot.cards import renderer

    renderer.preload()
    gc.collect()  # what start-up left as garbage goes now, not frozen with the rest
    gc.freeze()
    log.info("heap settled: %d start-up objects out of the collector's way", gc.get_freeze_count())


def _lifecycle(settings: Settings, packs: dict[str, ProcedurePack], clock: Clock, migrate: bool) -> Any:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if migrate:
            await upgrade(settings.database_url)
        engine = create_engine(settings.database_url)
        count_work(engine, app[METRICS])
        sessions = session_factory(engine)
        storage = SqlStorage(DocumentStore(sessions))
        deliver_soon = DeliverSoon()
        services = BotServices(
            uow=lambda: SqlUnitOfWork(sessions, on_notices=deliver_soon.ring),
            clock=clock,
            forms=FormStore(storage),
            packs=packs,
            app_id=settings.app_id,
            bot_name=settings.bot_name,
            pack_id=settings.pack_id,
            links=FileLinks(settings.link_secret, settings.public_url or f"http://{settings.host}:{settings.port}",
                            settings.link_hours),
        )
        # Opened here, on the app's loop: every connector call of every turn and proactive send goes through it.
        connector_http = connector_session()
        adapter = CloudAdapter(ReusingBotFrameworkAuthentication(BotFrameworkConfig(settings), connector_http))
        adapter.on_turn_error = _turn_error_handler(app)
        app[ENGINE] = engine
        app[SERVICES] = services
        app[ADAPTER] = adapter
        app[BOT] = ConcernsBot(services)
        app[SWEEPER] = build_sweeper(sessions=sessions, uow=services.uow, adapter=adapter, app_id=settings.app_id,
                                     clock=clock, packs=packs, pack=services.pack,
                                     admin_channel=settings.admin_channel)
        deliver_soon.deliverer = app[SWEEPER].deliverer
        app[DELIVER_SOON] = deliver_soon
        scheduler = None
        if settings.scheduler:
            runtime_id = f"app-{id(app)}"
            scheduler = jobs.start(runtime_id, app[SWEEPER], services.pack.reminders)
            log.info("reminder scheduler started: a sweep every minute, the chairs' digest at %s %s on working days",
                     services.pack.reminders.digest_at.strftime("%H:%M"), services.pack.reminders.time_zone)
        yield
        if scheduler is not None:
            jobs.stop(runtime_id, scheduler)
        await deliver_soon.settled()
        await connector_http.close()
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
    for key in ("id", "replyToId"):
        # msrest would read {} as the text "{}", an id that names no message
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"the activity's {key} must be a string"
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


def _unauthorized(app: web.Application) -> web.Response:
    app[METRICS]["activities_unauthenticated_total"] += 1
    return web.json_response({"error": "unauthorized: a valid Bot Framework token for this bot is required"},
                             status=401, headers={"WWW-Authenticate": "Bearer"})


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return header if scheme == "Bearer" and token.strip() else None


async def _authenticate(app: web.Application, activity: Activity, header: str) -> AuthenticateRequestResult:
    """Validate the Bot Framework token: signature (a key from the OpenID metadata), issuer, audience (the App ID),
    expiry and not-before with 5 minutes' skew, and the `serviceurl` claim against the activity's serviceUrl.

    botbuilder raises PermissionError for most refusals but also jwt errors, IndexError (a key id that is not
    in the key set) and AttributeError (a token it could not read): callers treat any exception as a refusal.
    It fetches the metadata with blocking `requests.get` calls and no timeout inside its coroutine, so when
    that may happen (the first token, keys a day old) the check runs on a worker thread with its own event
    loop and the app keeps serving while Microsoft answers; with the keys in hand it is CPU only and runs here.
    """
    auth = app[ADAPTER].bot_framework_authentication
    if isinstance(auth, ReusingBotFrameworkAuthentication) and auth.checks_without_fetching(header):
        return await asyncio.wait_for(auth.authenticate_request(activity, header), AUTH_TIMEOUT_SECONDS)
    return await asyncio.wait_for(asyncio.to_thread(asyncio.run, auth.authenticate_request(activity, header)),
                                  AUTH_TIMEOUT_SECONDS)


async def _refuse_tenant(app: web.Application, activity: Activity) -> web.Response | None:
    """403 for an activity from a tenant that is not on the allow-list, recorded in the audit trail."""
    allowed = app[GATE].tenants
    tenant = tenant_of(activity)
    if allowed is None or tenant.lower() in allowed:
        return None
    app[METRICS]["activities_tenant_refused_total"] += 1
    actor = actor_of(activity)
    log.warning("refused an activity (%s) from tenant %s, which is not on the allow-list", activity.type, tenant)
    services = app[SERVICES]
    try:
        async with services.uow() as uow:
            # Cut to the audit table's column sizes: these values come from the request.
            await uow.audit.record(event(
                services.clock, replace(actor, id=actor.id[:128], name=actor.name[:200], tenant_id=tenant[:64]),
                "tenant.refused", "tenant", tenant[:400], base_conversation_id(activity)[:400],
                activity_type=str(activity.type)[:64], channel_id=str(activity.channel_id)[:64],
            ))
            await uow.commit()
    except Exception:
        log.exception("could not record the refusal of tenant %s", tenant)
    return web.json_response({"error": "this bot does not serve your organisation's tenant"}, status=403)


async def messages(request: web.Request) -> web.StreamResponse:
    """Receive one activity from Teams (or the Agents Playground) and run the bot on it.

    In order: a bearer token is present (with an App ID), the body is an activity, the token is valid for
    it (401 otherwise), its tenant is allowed (403), and only then does the bot run.
    """
    app = request.app
    app[METRICS]["activities_total"] += 1
    gate = app[GATE]
    header = _bearer(request)
    if gate.authenticate and header is None:
        return _unauthorized(app)
    if "application/json" not in request.headers.get("Content-Type", ""):
        app[METRICS]["activities_rejected_total"] += 1
        return web.json_response({"error": "send the activity as application/json"}, status=415)
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        app[METRICS]["activities_rejected_total"] += 1
        return web.json_response({"error": "the body is not valid JSON"}, status=400)
    except RecursionError:
        app[METRICS]["activities_rejected_total"] += 1
        return web.json_response({"error": "the body is JSON nested too deep to be an activity"}, status=400)
    problem = _activity_problem(body)
    activity = None
    if problem is None:
        try:
            activity = Activity().deserialize(body)
        except Exception:
            problem = "the activity does not have the Bot Framework's shape"
        else:
            problem = identity_problem(activity)
    if problem is not None or activity is None:
        app[METRICS]["activities_rejected_total"] += 1
        return web.json_response({"error": problem}, status=400)
    if gate.authenticate:
        try:
            auth: AuthenticateRequestResult | str = await _authenticate(app, activity, header or "")
        except (TimeoutError, requests.RequestException) as error:
            log.error("could not check a Bot Framework token: the OpenID metadata or keys did not load (%s)", error)
            return web.json_response({"error": "cannot check tokens just now; try again"}, status=503,
                                     headers={"Retry-After": "5"})
        except Exception as error:
            log.warning("refused an activity with an invalid Bot Framework token: %s: %s",
                        type(error).__name__, error)
            return _unauthorized(app)
    else:
        # --dev without an App ID: botbuilder's authentication is disabled and answers with an anonymous identity.
        auth = request.headers.get("Authorization", "")
    refused = await _refuse_tenant(app, activity)
    if refused is not None:
        return refused
    try:
        invoke_response = await app[ADAPTER].process_activity(auth, activity, _turn_logic(app))
    except PermissionError:
        return _unauthorized(app)
    if invoke_response:
        return web.json_response(data=serializer_helper(invoke_response.body), status=invoke_response.status)
    return web.Response(status=201)


def _turn_logic(app: web.Application) -> Callable[[TurnContext], Awaitable[None]]:
    """The bot's turn, unless the person is over their command rate (nothing else happens then)."""

    async def logic(context: TurnContext) -> None:
        throttle = app.get(THROTTLE)
        activity = context.activity
        counted = activity.type == ActivityTypes.message or (
            activity.type == ActivityTypes.invoke and activity.name not in UNTHROTTLED_INVOKES)
        if throttle is None or not counted:
            await app[BOT].on_turn(context)
            return
        actor = actor_of(activity)
        verdict = throttle.take((actor.tenant_id, actor.id))
        if verdict.allowed:
            await app[BOT].on_turn(context)
            return
        # Counted, not logged one by one: a runaway client would flood the log. The first of a spell is logged.
        app[METRICS]["activities_throttled_total"] += 1
        if activity.type == ActivityTypes.invoke:
            await context.send_activity(Activity(type=ActivityTypes.invoke_response,
                                                 value=InvokeResponse(status=HTTPStatus.TOO_MANY_REQUESTS)))
        if verdict.tell:
            log.info("over the command rate: %s (tenant %s) told to wait %d s", actor.id, actor.tenant_id,
                     verdict.retry_after)
            await _tell_to_wait(app, context, verdict.retry_after)

    return logic


async def _tell_to_wait(app: web.Application, context: TurnContext, seconds: int) -> None:
    """Once per spell over the limit, and only to that person: in a channel the others need not know."""
    wait = f"{seconds} second{'s' if seconds != 1 else ''}"
    notice = Activity(type=ActivityTypes.message,
                      text=f"You are sending commands faster than I can take them; wait {wait}, then send it again. "
                           f"I did nothing with what you sent just now.")
    try:
        turn = Turn(context, app[SERVICES])
        if turn.conversation.kind is ConversationKind.PERSONAL:
            await context.send_activity(notice)
        else:
            await send_privately(turn, notice)
    except Exception:
        log.warning("could not tell someone over the command rate to slow down", exc_info=True)


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
