"""RS256 session tokens for virtual MCP servers, and the JWKS that verifies them."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from scalekit_langchain.testing._errors import invalid

MIN_EXPIRY = 60
MAX_EXPIRY = 24 * 3600
DEFAULT_EXPIRY = 3600
TOKEN_TYPE = "mcp_session"
ACCESS_LEVELS = ("FULL", "READ_ONLY")

_DURATION_RE = re.compile(r"^\s*(\d+)(?:\.\d*)?s\s*$")


class InvalidSessionToken(Exception):
    """A session token that cannot be accepted (bad signature, audience, expiry, type)."""


def parse_expiry(raw: Any) -> int:
    """Parse a protobuf Duration string (``"3600s"``) into whole seconds, fractions dropped.

    Args:
        raw: The ``expiry`` field of the request, or None.

    Returns:
        Seconds, :data:`DEFAULT_EXPIRY` when ``raw`` is None or empty.

    Raises:
        ApiError: 400 when malformed or outside 60 s to 24 h.
    """
    if raw is None or raw == "":
        return DEFAULT_EXPIRY
    match = _DURATION_RE.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise invalid("expiry", "must be a duration such as '3600s'")
    seconds = int(match.group(1))
    if not MIN_EXPIRY <= seconds <= MAX_EXPIRY:
        raise invalid("expiry", "must be between 60s and 24h")
    return seconds


class SigningKey:
    """One RSA key pair per emulator: signs session tokens and publishes its JWKS."""

    def __init__(self) -> None:
        self.kid = "snk_" + secrets.token_hex(8)
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public = self._private.public_key()

    def jwks(self) -> dict[str, Any]:
        """Return the JSON Web Key Set with the public key."""
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self._public, as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        """Sign claims with RS256, naming the key in the ``kid`` header."""
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": self.kid})

    def verify(self, token: str, *, audience: str, clock: Callable[[], float]) -> dict[str, Any]:
        """Verify a session token for one MCP server URL.

        Args:
            token: The bearer token.
            audience: The URL of the server it must have been minted for.
            clock: Current time in UNIX seconds (expiry is checked against it).

        Returns:
            The token's claims.

        Raises:
            InvalidSessionToken: Bad signature, wrong audience or type, or expired.
        """
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=["RS256"],
                audience=audience,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "require": ["exp", "sub", "aud"],
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidSessionToken(str(exc)) from None
        if claims.get("token_type") != TOKEN_TYPE:
            raise InvalidSessionToken("not an MCP session token")
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp <= clock():
            raise InvalidSessionToken("token expired")
        return claims
