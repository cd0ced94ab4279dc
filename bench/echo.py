"""Baseline 1: the bare botbuilder echo bot (CloudAdapter + ActivityHandler), authentication on.

What botbuilder's own samples run, configured like the concerns bot (single-tenant App ID, the same
local OpenID metadata for channel tokens, Entra ID for its outgoing token), so the difference between
the two is what the concerns bot itself adds.

Run: python -m bench.echo --port P   (configuration from the environment, see bench/run.py)
"""

from __future__ import annotations

import argparse
import os

from aiohttp import web
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import CallerIdConstants
from botframework.connector.auth import AuthenticationConstants


class Config:
    """The attribute names ConfigurationBotFrameworkAuthentication reads; the public-cloud values but for
    where channel tokens' keys are found."""

    def __init__(self) -> None:
        self.APP_ID = os.environ["MicrosoftAppId"]
        self.APP_PASSWORD = os.environ["MicrosoftAppPassword"]
        self.APP_TYPE = os.environ.get("MicrosoftAppType", "SingleTenant")
        self.APP_TENANTID = os.environ["MicrosoftAppTenantId"]
        self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = os.environ["BENCH_OPENID_METADATA_URL"]
        self.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = os.environ["BENCH_OPENID_METADATA_URL"]
        self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
        self.TO_CHANNEL_FROM_BOT_LOGIN_URL = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
        self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        self.OAUTH_URL = AuthenticationConstants.OAUTH_URL
        self.CALLER_ID = CallerIdConstants.public_azure_channel
        self.VALIDATE_AUTHORITY = True


class EchoBot(ActivityHandler):
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(MessageFactory.text(f"Echo: {turn_context.activity.text}"))


def app() -> web.Application:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config()))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    application = web.Application()
    application.router.add_post("/api/messages", messages)
    application.router.add_get("/healthz", lambda request: web.json_response({"status": "ok"}))
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
