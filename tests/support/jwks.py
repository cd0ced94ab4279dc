"""A local stand-in for the Bot Framework's token issuer: OpenID metadata, a JWKS and RS256 tokens.

Real Teams traffic carries `Authorization: Bearer <JWT>` signed by a key published through
https://login.botframework.com/v1/.well-known/openidconfiguration (its `jwks_uri` lists the keys, each
with the channels it endorses), issued by https://api.botframework.com, with `aud` = the bot's App ID and
`serviceurl` = the activity's serviceUrl. This serves the same two documents on 127.0.0.1 with keys made
here, so a test can sign good and bad tokens and point botbuilder at it (`BotFrameworkEndpoints`).

The server runs on its own thread and event loop: botbuilder fetches the metadata with blocking
`requests.get`, so a server on the test's loop would hang the test if the app ever did that on its loop.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import BotFrameworkEndpoints

ISSUER = "https://api.botframework.com"  # the real channel issuer; tests use it unchanged
METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class SigningKey:
    """An RSA key pair with a key id; `jwk` is the public half as the JWKS lists it."""

    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    private: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    endorsements: tuple[str, ...] = ("msteams",)

    @property
    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "n": _b64(numbers.n), "e": _b64(numbers.e),
                "endorsements": list(self.endorsements)}


@dataclass
class TokenIssuer:
    """Serves OpenID metadata and the published keys; signs channel tokens like the Bot Framework's."""

    app_id: str
    published: list[SigningKey] = field(default_factory=list)
    base_url: str = ""  # set by `serving`
    metadata_requests: int = 0
    delay: float = 0.0  # seconds before the metadata answers, as a slow identity service would
    # botbuilder caches metadata per URL for the whole process: a fresh path per issuer keeps tests apart.
    prefix: str = field(default_factory=lambda: "/" + uuid.uuid4().hex)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(self.prefix + METADATA_PATH, self._metadata)
        app.router.add_get(self.prefix + KEYS_PATH, self._keys)
        return app

    async def _metadata(self, request: web.Request) -> web.Response:
        self.metadata_requests += 1
        await asyncio.sleep(self.delay)
        return web.json_response({
            "issuer": ISSUER,
            "authorization_endpoint": "https://invalid.example/",
            "jwks_uri": self.base_url + self.prefix + KEYS_PATH,
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        })

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [key.jwk for key in self.published]})

    def endpoints(self) -> BotFrameworkEndpoints:
        """The bot's token-validation settings pointed here (emulator-style tokens too); outbound stays default."""
        return BotFrameworkEndpoints(
            channel_openid_metadata_url=self.base_url + self.prefix + METADATA_PATH,
            channel_token_issuer=ISSUER,
            emulator_openid_metadata_url=self.base_url + self.prefix + METADATA_PATH,
        )

    def token(self, service_url: str, *, key: SigningKey | None = None, kid: str | None = None,
              issued: float | None = None, lifetime: float = 3600, **claims: Any) -> str:
        """A channel token as Teams' connector sends it; keyword claims override or (as None) remove the defaults."""
        now = time.time() if issued is None else issued
        payload: dict[str, Any] = {
            "serviceurl": service_url,
            "nbf": int(now),
            "exp": int(now + lifetime),
            "iss": ISSUER,
            "aud": self.app_id,
        }
        for name, value in claims.items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        signer = key or self.published[0]
        return jwt.encode(payload, signer.private, algorithm="RS256",
                          headers={"kid": kid or signer.kid, "x5t": signer.kid})


@contextmanager
def serving(issuer: TokenIssuer) -> Iterator[TokenIssuer]:
    """Run the issuer's HTTP server on 127.0.0.1 on a thread of its own, for the duration of the block."""
    loop = asyncio.new_event_loop()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(issuer.app())
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, sock).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="token-issuer", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the local token issuer did not start")
    issuer.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield issuer
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
