"""Configuration from environment variables (and a .env file when present)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.graph import GraphSettings
from storage.db import default_database_url


class ConfigurationError(Exception):
    """Something an operator must fix before the bot can start."""


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
        )

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


class BotFrameworkConfig:
    """The attribute names botbuilder's ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = settings.app_password
        # botbuilder's single-tenant credentials insist on an App ID; an empty ID is only
        # accepted on the multi-tenant path, which then skips authentication (dev mode).
        self.APP_TYPE = settings.app_type if settings.app_id else "MultiTenant"
        self.APP_TENANTID = settings.app_tenant_id
