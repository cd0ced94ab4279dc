"""The concerns bot as `concerns-bot serve` runs it, with one difference: where channel tokens' keys are found.

Everything comes from the environment as in production (MicrosoftAppId, MicrosoftAppPassword,
MicrosoftAppType=SingleTenant, MicrosoftAppTenantId, CONCERNS_*), `Settings.check()` must pass, and the
logging is the command's. `BotFrameworkEndpoints` is deliberately not read from the environment
(bot/settings.py), so only its channel OpenID metadata URL is replaced here, by code, with the stub's
(BENCH_OPENID_METADATA_URL): the same override the auth tests make. The outgoing token still comes from
login.microsoftonline.com, which the stub answers through the HTTPS proxy (HTTPS_PROXY, REQUESTS_CA_BUNDLE).

With BENCH_CONNECTOR=stock (`python -m bench --connector stock`) the app is given botbuilder's own
connector factory and user-token client instead of bot.connector's, and checks every token on a thread of
its own (bot.app before bot.connector), for a before/after comparison on the same machine and tree.

With BENCH_CPROFILE=FOLDER (`python -m bench --cprofile`) the event loop's thread runs under cProfile
between SIGUSR1 and SIGUSR2, which the harness sends around a timed phase, and the statistics go to
FOLDER/cprofile-N.prof: exact call counts and CPU per function, where py-spy's samples lose their way in
SQLAlchemy's greenlets.

Run: python -m bench.botproc --port P
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import signal
from dataclasses import replace
from functools import partial
from pathlib import Path

from aiohttp import web
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult, ClaimsIdentity, ConnectorFactory, UserTokenClient

import bot.app
from bot.app import init_app
from bot.connector import ReusingBotFrameworkAuthentication
from bot.settings import BotFrameworkEndpoints, Settings


class Stock(ReusingBotFrameworkAuthentication):
    """The app as it was before bot.connector: botbuilder's own factories, and every token check on a thread
    with its own event loop."""

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        return await self._inner.authenticate_request(activity, auth_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._inner.create_connector_factory(claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        return await self._inner.create_user_token_client(claims_identity)

    def checks_without_fetching(self, auth_header: str) -> bool:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # As bot.cli.main sets it up for `serve`.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    metadata = os.environ["BENCH_OPENID_METADATA_URL"]
    settings = Settings.from_environment(host="127.0.0.1", port=args.port)
    settings = replace(settings, bot_framework=replace(BotFrameworkEndpoints(), channel_openid_metadata_url=metadata,
                                                       emulator_openid_metadata_url=metadata))
    settings.check()
    if os.environ.get("BENCH_CONNECTOR") == "stock":
        bot.app.ReusingBotFrameworkAuthentication = Stock  # type: ignore[misc]
        logging.getLogger(__name__).warning("BENCH_CONNECTOR=stock: botbuilder's connector factory, for comparison")
    app = init_app(settings, settle_heap=True)  # as `concerns-bot serve`
    profile_to = os.environ.get("BENCH_CPROFILE")
    if profile_to:
        app.on_startup.append(partial(_profiling, Path(profile_to)))
    web.run_app(app, host=settings.host, port=settings.port, print=None)


async def _profiling(folder: Path, _: web.Application) -> None:
    import cProfile

    profiler = cProfile.Profile()
    phases = itertools.count(1)

    def stop() -> None:
        profiler.disable()
        profiler.dump_stats(folder / f"cprofile-{next(phases)}.prof")
        profiler.clear()

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, profiler.enable)
    loop.add_signal_handler(signal.SIGUSR2, stop)


if __name__ == "__main__":
    main()
