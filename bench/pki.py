"""Keys and certificates for one benchmark run, made fresh each time and kept in the run folder.

Two trust paths are stood in for, both offline: the Bot Framework's channel tokens (RS256 JWTs whose
key the bot finds through OpenID metadata, served by the stub) and Entra ID, where the bot gets its own
token for calling the connector. msal only talks https to login.microsoftonline.com, so the stub answers
there through an HTTPS proxy with a certificate for that name signed by a CA made here; the bot's
process trusts that CA alone (REQUESTS_CA_BUNDLE) and reaches nothing else.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ENTRA_HOST = "login.microsoftonline.com"
CHANNEL_ISSUER = "https://api.botframework.com"
KEY_ID = "bench-signing-key"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class RunKeys:
    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def tls_cert(self) -> Path:
        return self.folder / "entra.pem"

    @property
    def tls_key(self) -> Path:
        return self.folder / "entra-key.pem"

    @property
    def signing_key(self) -> Path:
        return self.folder / "channel-signing-key.pem"

    def jwk(self) -> dict[str, Any]:
        """The channel signing key's public half as the Bot Framework's JWKS lists it."""
        key = serialization.load_pem_private_key(self.signing_key.read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        numbers = key.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": KEY_ID, "n": _b64(numbers.n), "e": _b64(numbers.e),
                "endorsements": ["msteams"]}

    def channel_token(self, app_id: str, service_url: str, lifetime: float = 4 * 3600) -> str:
        """A token as Teams' connector sends it with each activity; one serves a whole run, as a real one
        is reused by the channel until it nears expiry."""
        now = int(time.time())
        payload = {"serviceurl": service_url, "nbf": now - 5, "exp": now + int(lifetime), "iss": CHANNEL_ISSUER,
                   "aud": app_id}
        return jwt.encode(payload, self.signing_key.read_bytes(), algorithm="RS256",
                          headers={"kid": KEY_ID, "x5t": KEY_ID})


def make_keys(folder: Path) -> RunKeys:
    folder.mkdir(parents=True, exist_ok=True)
    keys = RunKeys(folder)
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(65537, 2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "concerns-bot bench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = rsa.generate_private_key(65537, 2048)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ENTRA_HOST)]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(ENTRA_HOST)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    keys.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    keys.tls_cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    keys.tls_key.write_bytes(_pem(leaf_key))
    keys.signing_key.write_bytes(_pem(rsa.generate_private_key(65537, 2048)))
    (folder / "jwks.json").write_text(json.dumps({"keys": [keys.jwk()]}))
    return keys
