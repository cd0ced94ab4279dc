"""Configuration from environment variables (and a .env file when present)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from botbuilder.schema import CallerIdConstants
from botframework.connector.auth import AuthenticationConstants

from bot.graph import GraphSettings
from bot.throttle import UserRate
from storage.db import default_database_url


class ConfigurationError(Exception):
    """Something an operator must fix before the bot can start."""


_TENANT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def parse_tenants(value: str) -> tuple[str, ...]:
    """CONCERNS_ALLOWED_TENANTS: comma-separated Entra tenant ids (GUIDs), compared in lower case."""
    tenants = []
    for item in value.split(","):
        tenant = item.strip().lower()
        if not tenant:
            continue
        if not _TENANT_ID.match(tenant):
            raise ConfigurationError(f"CONCERNS_ALLOWED_TENANTS: {item.strip()!r} is not a tenant id "
                                     f"(a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47).")
        if tenant not in tenants:
            tenants.append(tenant)
    return tuple(tenants)


# A person reads each answer before the next command: 30 a minute is far beyond that, and 10 at once
# covers pressing through a card's buttons quickly.
DEFAULT_USER_RATE = UserRate(commands=30, seconds=60, burst=10)


def parse_user_rate(rate: str, burst: str, *, dev: bool) -> UserRate | None:
    """CONCERNS_USER_RATE ("30/60s"; "off" for no limit) and CONCERNS_USER_BURST.

    Unset, the limit is DEFAULT_USER_RATE, except with --dev: the Agents Playground driven by a script
    (tests/e2e) sends commands faster than any person, and only its one local user is there to limit.
    """
    if rate.strip().lower() in ("off", "none", "no", "0"):
        return None
    if not rate.strip():
        if dev:
            return None
        rate = f"{DEFAULT_USER_RATE.commands}/{DEFAULT_USER_RATE.seconds:g}s"
        burst = burst or str(DEFAULT_USER_RATE.burst)
    try:
        return UserRate.parse(rate, burst)
    except ValueError as bad:
        raise ConfigurationError(f"CONCERNS_USER_RATE / CONCERNS_USER_BURST: {bad}") from None


@dataclass(frozen=True)
class BotFrameworkEndpoints:
    """Where Bot Framework tokens are checked and obtained: botbuilder's public-cloud values.

    Incoming tokens must be signed by a key from the channel's OpenID metadata
    (https://login.botframework.com/v1/.well-known/openidconfiguration) and issued by
    https://api.botframework.com. Deliberately not read from the environment: only code (the
    auth tests, with a local OpenID metadata server and keys) replaces them, so no deployment
    setting can point token validation at somebody else's keys.
    """

    channel_openid_metadata_url: str = AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    channel_token_issuer: str = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
    emulator_openid_metadata_url: str = AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
    # Outbound (bot -> connector) tokens: any URL under this prefix makes botbuilder use Entra ID with
    # the app's tenant, exactly as its built-in public-cloud configuration does.
    login_url: str = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
    oauth_scope: str = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
    oauth_url: str = AuthenticationConstants.OAUTH_URL
    caller_id: str = CallerIdConstants.public_azure_channel


@dataclass(frozen=True)
class Settings:
    database_url: str
    app_id: str = ""
    app_password: str = ""
    app_type: str = "SingleTenant"
    app_tenant_id: str = ""
    dev: bool = False
    host: str = "127.0.0.1"
    port: int = 3978
    packs_dir: Path | None = None
    bot_name: str = "Concerns Bot"
    pack_id: str = "croydon-provider-concerns"
    public_url: str = ""  # where people's browsers reach this app, for signed file links
    link_secret: str = ""
    link_hours: int = 24
    graph: GraphSettings | None = None  # optional: online meetings through Microsoft Graph
    # The reminder scheduler runs in the serving process; tests that drive sweeps by hand leave it off.
    scheduler: bool = False
    admin_channel: str = ""  # where undelivered-message alerts go; default: each team's General channel
    # CONCERNS_ALLOWED_TENANTS; the home tenant (MicrosoftAppTenantId) is allowed besides these.
    allowed_tenants: tuple[str, ...] = ()
    # CONCERNS_USER_RATE / CONCERNS_USER_BURST: commands and card submits per person; None: no limit.
    user_rate: UserRate | None = None
    # Not from the environment: tests point these at local keys (see BotFrameworkEndpoints).
    bot_framework: BotFrameworkEndpoints = field(default_factory=BotFrameworkEndpoints)

    @classmethod
    def from_environment(cls, *, dev: bool = False, host: str | None = None, port: int | None = None,
                         env: dict[str, str] | None = None) -> Settings:
        """Read the Bot Framework's usual variable names plus CONCERNS_*."""
        values = dict(os.environ if env is None else env)
        packs = values.get("CONCERNS_PACKS_DIR")
        try:
            graph = GraphSettings.from_environment(values)
        except ValueError as partial:
            raise ConfigurationError(str(partial)) from None
        return cls(
            database_url=values.get("CONCERNS_DATABASE_URL") or default_database_url(),
            app_id=values.get("MicrosoftAppId", ""),
            app_password=values.get("MicrosoftAppPassword", ""),
            app_type=values.get("MicrosoftAppType", "") or "SingleTenant",
            app_tenant_id=values.get("MicrosoftAppTenantId", ""),
            dev=dev,
            host=host or values.get("CONCERNS_HOST", "127.0.0.1"),
            port=port or int(values.get("CONCERNS_PORT", "3978")),
            packs_dir=Path(packs) if packs else None,
            bot_name=values.get("CONCERNS_BOT_NAME", "Concerns Bot"),
            pack_id=values.get("CONCERNS_PACK", "croydon-provider-concerns"),
            public_url=values.get("CONCERNS_PUBLIC_URL", "").rstrip("/"),
            link_secret=values.get("CONCERNS_LINK_SECRET", ""),
            link_hours=int(values.get("CONCERNS_LINK_HOURS", "24")),
            graph=graph,
            scheduler=values.get("CONCERNS_SCHEDULER", "on").lower() not in ("off", "0", "false", "no"),
            admin_channel=values.get("CONCERNS_ADMIN_CHANNEL", ""),
            allowed_tenants=parse_tenants(values.get("CONCERNS_ALLOWED_TENANTS", "")),
            user_rate=parse_user_rate(values.get("CONCERNS_USER_RATE", ""), values.get("CONCERNS_USER_BURST", ""),
                                      dev=dev),
        )

    def tenant_allow_list(self) -> frozenset[str] | None:
        """The tenants whose activities the bot serves; None: any tenant (only --dev, with no list and no App ID
        tenant, for the Agents Playground's made-up tenant)."""
        allowed = {tenant.lower() for tenant in self.allowed_tenants}
        if self.app_id and self.app_tenant_id:
            allowed.add(self.app_tenant_id.strip().lower())
        return frozenset(allowed) if allowed else None

    def check(self) -> None:
        """Refuse configurations that would run an unauthenticated bot where others can reach it."""
        if not self.app_id:
            if not self.dev:
                raise ConfigurationError(
                    "MicrosoftAppId is not set. Set it (and MicrosoftAppPassword) to run for Teams, "
                    "or pass --dev to run locally with the Agents Playground."
                )
            if self.host not in ("127.0.0.1", "localhost", "::1"):
                raise ConfigurationError(
                    f"--dev without MicrosoftAppId accepts unauthenticated requests, so it only "
                    f"listens on 127.0.0.1, not {self.host}."
                )
        elif not self.app_password:
            raise ConfigurationError("MicrosoftAppId is set but MicrosoftAppPassword is not.")
        if self.app_type not in ("SingleTenant", "MultiTenant", "UserAssignedMSI"):
            raise ConfigurationError(f"MicrosoftAppType must be SingleTenant or MultiTenant, not {self.app_type}")
        if self.app_id and self.app_type == "SingleTenant" and not self.app_tenant_id:
            raise ConfigurationError("MicrosoftAppType=SingleTenant needs MicrosoftAppTenantId.")
        if not self.dev and len(self.link_secret) < 32:
            # Reports and case files are reached through signed links; a guessable key would open them to anyone.
            raise ConfigurationError("CONCERNS_LINK_SECRET must be set to at least 32 random characters "
                                     "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))').")
        if not self.dev and not self.public_url.startswith("https://"):
            raise ConfigurationError("CONCERNS_PUBLIC_URL must be the bot's https:// address, for file links.")
        if not self.dev and self.app_type == "MultiTenant" and not self.allowed_tenants:
            # A multi-tenant registration can be installed by any organisation; say which ones this bot serves.
            raise ConfigurationError("MicrosoftAppType=MultiTenant needs CONCERNS_ALLOWED_TENANTS: the comma-separated "
                                     "tenant ids whose Teams may use the bot (the home tenant is always allowed).")
        if not self.dev and self.tenant_allow_list() is None:
            raise ConfigurationError("Set MicrosoftAppTenantId or CONCERNS_ALLOWED_TENANTS: outside --dev the bot "
                                     "serves only the tenants it is told about.")


class BotFrameworkConfig:
    """The attribute names botbuilder's ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = settings.app_password
        # botbuilder's single-tenant credentials insist on an App ID; an empty ID is only
        # accepted on the multi-tenant path, which then skips authentication (dev mode).
        self.APP_TYPE = settings.app_type if settings.app_id else "MultiTenant"
        self.APP_TENANTID = settings.app_tenant_id
        if settings.app_id:
            # Setting any of these makes botbuilder take its "parameterized" path, which validates every
            # request's token against exactly these values; the defaults are its public-cloud constants,
            # so production behaves as the built-in configuration would, and tests can use local keys.
            # Without an App ID (--dev) authentication is disabled and none of this is read.
            endpoints = settings.bot_framework
            self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = endpoints.channel_openid_metadata_url
            self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = endpoints.channel_token_issuer
            self.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = endpoints.emulator_openid_metadata_url
            self.TO_CHANNEL_FROM_BOT_LOGIN_URL = endpoints.login_url
            self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = endpoints.oauth_scope
            self.OAUTH_URL = endpoints.oauth_url
            self.CALLER_ID = endpoints.caller_id
            self.VALIDATE_AUTHORITY = True
