"""The connector stub: what the bot talks to instead of Microsoft's cloud, on 127.0.0.1 only.

One process serves three things, as the real services answer them:
- the Bot Connector REST API v3 (`POST /v3/conversations`, `POST .../conversations/{id}/activities[/{id}]`,
  `PUT .../activities/{id}`, `GET .../pagedmembers`), answering 200/201 with `{"id": ...}`; every call must
  carry a bearer token this stub issued, as the real connector insists on the bot's Entra token;
- the Bot Framework's OpenID metadata and JWKS for the channel tokens the load driver signs;
- Entra ID's tenant discovery and token endpoints, behind an HTTPS proxy (CONNECT) that only lets
  `login.microsoftonline.com:443` through and answers it itself with a certificate from the run's CA.

`/_bench/stats` counts every kind of call, so the harness can say how many connector and token requests
each turn cost; `/_bench/sent?after=N` lists the most recent sends (ids and the first card's submit data),
which is how the driver finds the forms the bot issued.

Run: python -m bench.stub --port P --proxy-port Q --keys DIR --app-id ID --app-password PW
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import secrets
import ssl
from collections import Counter, deque
from typing import Any
from urllib.parse import parse_qs, unquote

from aiohttp import web

from bench.pki import CHANNEL_ISSUER, ENTRA_HOST, RunKeys

METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"
SENT_KEPT = 50_000  # enough for the forms of one scenario; bounded so a long run does not grow the stub


def _submit_data(body: dict[str, Any]) -> dict[str, Any] | None:
    for attachment in body.get("attachments") or []:
        content = attachment.get("content") if isinstance(attachment, dict) else None
        if isinstance(content, dict):
            for action in content.get("actions") or []:
                if isinstance(action, dict) and action.get("type") == "Action.Submit":
                    return action.get("data")
    return None


class Stub:
    def __init__(self, keys: RunKeys, app_id: str, app_password: str, latency: float = 0.0) -> None:
        self.keys = keys
        self.app_id = app_id
        self.app_password = app_password
        self.latency = latency
        self.base_url = ""
        self.counts: Counter[str] = Counter()
        self.tokens: set[str] = set()
        self.sent: deque[dict[str, Any]] = deque(maxlen=SENT_KEPT)
        self._seq = itertools.count(1)
        self._ids = itertools.count(10_000_000)

    # -- Bot Framework channel keys ---------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_get(METADATA_PATH, self._metadata)
        app.router.add_get(KEYS_PATH, self._keys)
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._send)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_get("/v3/conversations/{conversation}/pagedmembers", self._members)
        app.router.add_get("/_bench/stats", self._stats)
        app.router.add_get("/_bench/sent", self._sent)
        app.router.add_get("/healthz", self._health)
        return app

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _metadata(self, request: web.Request) -> web.Response:
        self.counts["openid_metadata"] += 1
        return web.json_response({
            "issuer": CHANNEL_ISSUER,
            "authorization_endpoint": "https://invalid.example/",
            "jwks_uri": self.base_url + KEYS_PATH,
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        })

    async def _keys(self, request: web.Request) -> web.Response:
        self.counts["openid_keys"] += 1
        return web.json_response({"keys": [self.keys.jwk()]})

    # -- the connector ----------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer" and token in self.tokens:
            return True
        self.counts["connector_unauthorised"] += 1
        return False

    def _record(self, method: str, conversation: str, activity_id: str, body: dict[str, Any]) -> None:
        self.sent.append({"seq": next(self._seq), "method": method, "conversation": conversation,
                          "activity_id": activity_id, "reply_to": body.get("replyToId"),
                          "data": _submit_data(body)})

    async def _answer(self, payload: dict[str, Any], status: int) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        return web.json_response(payload, status=status)

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        self.counts["connector_create"] += 1
        body = await request.json()
        activity_id = str(next(self._ids))
        if body.get("isGroup"):
            channel = (body.get("channelData") or {}).get("channel", {}).get("id", "19:bench@thread.tacv2")
            conversation_id = f"{channel};messageid={activity_id}"
        else:
            member = ((body.get("members") or [{}])[0] or {}).get("id", "someone")
            conversation_id = f"a:bench-personal-{member}"
        if body.get("activity"):
            self._record("CREATE", conversation_id, activity_id, body["activity"])
        return await self._answer({"id": conversation_id, "activityId": activity_id}, 201)

    async def _send(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        self.counts["connector_send"] += 1
        body = await request.json()
        activity_id = str(next(self._ids))
        self._record("POST", unquote(request.match_info["conversation"]), activity_id, body)
        return await self._answer({"id": activity_id}, 201)

    async def _update(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        self.counts["connector_update"] += 1
        body = await request.json()
        activity_id = unquote(request.match_info["activity"])
        self._record("PUT", unquote(request.match_info["conversation"]), activity_id, body)
        return await self._answer({"id": activity_id}, 200)

    async def _members(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        self.counts["connector_members"] += 1
        return await self._answer({"members": []}, 200)

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.counts))

    async def _sent(self, request: web.Request) -> web.Response:
        after = int(request.query.get("after", "0"))
        return web.json_response([entry for entry in self.sent if entry["seq"] > after])

    # -- Entra ID, through the proxy --------------------------------------------------------------

    def tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.keys.tls_cert, self.keys.tls_key)
        return context

    async def proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """An HTTP CONNECT proxy that lets only Entra ID through, and is Entra ID."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            if method != "CONNECT" or target.rsplit(":", 1)[0] != ENTRA_HOST:
                self.counts["proxy_refused"] += 1
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
                return
            self.counts["entra_connect"] += 1
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await writer.start_tls(self.tls())
            while await self._entra_request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError):
            pass
        finally:
            writer.close()

    async def _entra_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        path = path.split("?", 1)[0]
        tenant = path.strip("/").split("/", 1)[0]
        status, payload = 404, {"error": "not_found"}
        if method == "GET" and path.endswith("/v2.0/.well-known/openid-configuration"):
            self.counts["entra_discovery"] += 1
            base = f"https://{ENTRA_HOST}/{tenant}"
            status, payload = 200, {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/v2.0",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                          "client_secret_basic"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            }
        elif method == "POST" and path.endswith("/oauth2/v2.0/token"):
            self.counts["entra_token"] += 1
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if (form.get("grant_type") == "client_credentials" and form.get("client_id") == self.app_id
                    and form.get("client_secret") == self.app_password):
                token = secrets.token_urlsafe(48)
                self.tokens.add(token)
                status, payload = 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                        "access_token": token}
            else:
                self.counts["entra_refused"] += 1
                status, payload = 401, {"error": "invalid_client", "error_description": "bench: wrong credentials"}
        data = json.dumps(payload).encode()
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}[status]
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
                     f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        await writer.drain()
        return headers.get("connection", "").lower() != "close"


async def serve(stub: Stub, port: int, proxy_port: int) -> None:
    stub.base_url = f"http://127.0.0.1:{port}"
    runner = web.AppRunner(stub.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    proxy = await asyncio.start_server(stub.proxy, "127.0.0.1", proxy_port)
    async with proxy:
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--proxy-port", type=int, required=True)
    parser.add_argument("--keys", required=True, help="the run's key folder (bench.pki)")
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--app-password", required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each connector answer")
    args = parser.parse_args()
    from pathlib import Path

    stub = Stub(RunKeys(Path(args.keys)), args.app_id, args.app_password, args.latency_ms / 1000)
    try:
        asyncio.run(serve(stub, args.port, args.proxy_port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
