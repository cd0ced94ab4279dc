"""Baseline 2: the same HTTP round trip in plain aiohttp, with the same authentication done once per process.

Per request: check the channel token (RS256 signature with the JWKS key fetched at start, issuer, audience =
App ID, expiry with 5 minutes' skew, `serviceurl` = the activity's serviceUrl), post one reply to the
connector with the bot's Entra token (fetched at start through msal, as botbuilder does, then reused),
answer 201. It is the floor for a Python bot speaking this protocol on this machine.

Run: python -m bench.rawecho --port P   (configuration from the environment, see bench/run.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt
import msal
from aiohttp import web
from botframework.connector.auth import AuthenticationConstants

APP_ID = web.AppKey("app_id", str)
KEYS = web.AppKey("keys", dict)
TOKEN = web.AppKey("token", str)
HTTP = web.AppKey("http", aiohttp.ClientSession)


def _outbound_token() -> str:
    authority = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX + os.environ["MicrosoftAppTenantId"]
    client = msal.ConfidentialClientApplication(os.environ["MicrosoftAppId"], os.environ["MicrosoftAppPassword"],
                                                authority=authority)
    result = client.acquire_token_for_client([AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
                                              + "/.default"])
    return str(result["access_token"])


async def _startup(app: web.Application) -> Any:
    app[APP_ID] = os.environ["MicrosoftAppId"]
    app[HTTP] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
    async with app[HTTP].get(os.environ["BENCH_OPENID_METADATA_URL"]) as response:
        metadata = await response.json()
    async with app[HTTP].get(metadata["jwks_uri"]) as response:
        keys = (await response.json())["keys"]
    app[KEYS] = {key["kid"]: jwt.PyJWK(key, algorithm="RS256") for key in keys if "msteams" in key["endorsements"]}
    app[TOKEN] = await asyncio.to_thread(_outbound_token)
    yield
    await app[HTTP].close()


async def messages(request: web.Request) -> web.Response:
    app = request.app
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer":
        return web.json_response({"error": "unauthorized"}, status=401)
    activity = json.loads(await request.read())
    try:
        key = app[KEYS][jwt.get_unverified_header(token)["kid"]]
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=app[APP_ID],
                            issuer=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER, leeway=300)
    except (jwt.PyJWTError, KeyError):
        return web.json_response({"error": "unauthorized"}, status=401)
    if claims.get("serviceurl") != activity.get("serviceUrl"):
        return web.json_response({"error": "unauthorized"}, status=401)
    conversation = activity["conversation"]["id"]
    reply = {"type": "message", "text": f"Echo: {activity.get('text')}", "replyToId": activity.get("id"),
             "conversation": activity["conversation"], "from": activity.get("recipient"),
             "recipient": activity.get("from"), "channelId": activity.get("channelId"),
             "serviceUrl": activity["serviceUrl"]}
    url = (f"{activity['serviceUrl'].rstrip('/')}/v3/conversations/{quote(conversation, safe='')}"
           f"/activities/{quote(str(activity.get('id')), safe='')}")
    async with app[HTTP].post(url, json=reply, headers={"Authorization": f"Bearer {app[TOKEN]}"}) as response:
        if response.status >= 300:
            return web.json_response({"error": f"connector answered {response.status}"}, status=502)
        await response.read()
    return web.Response(status=201)


def app() -> web.Application:
    application = web.Application()
    application.cleanup_ctx.append(_startup)
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
