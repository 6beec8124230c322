"""Credentials for the gateway: derived digest passwords and JWT decoding."""

import base64
import binascii
from datetime import UTC, datetime
import hashlib
import json

from .exceptions import EnvoyTokenError
from .models import TokenInfo

_INSTALLER_SALT_PREFIX = "[e]installer@enphaseenergy.com#"
_INSTALLER_SALT_SUFFIX = " EnPhAsE eNeRgY "
_INSTALLER_PASSWORD_LENGTH = 8


def installer_password(serial: str) -> str:
    """Return the digest password of the ``installer`` user (firmware < 7)."""
    digest = hashlib.md5(
        f"{_INSTALLER_SALT_PREFIX}{serial}{_INSTALLER_SALT_SUFFIX}".encode(),
        usedforsecurity=False,
    ).hexdigest()
    zeros = digest.count("0")
    ones = digest.count("1")
    password: list[str] = []
    for char in reversed(digest[-_INSTALLER_PASSWORD_LENGTH:]):
        if zeros in (3, 6, 9):
            zeros -= 1
        zeros = min(max(zeros, 0), 20)
        if ones in (9, 15):
            ones -= 1
        ones = min(max(ones, 0), 26)
        if char == "0":
            password.append(chr(ord("f") + zeros))
            zeros -= 1
        elif char == "1":
            password.append(chr(ord("@") + ones))
            ones -= 1
        else:
            password.append(char)
    return "".join(password)


def envoy_password(serial: str) -> str:
    """Return the digest password of the ``envoy`` user: the serial's last 6 chars."""
    return serial[-6:]


def decode_token(token: str) -> TokenInfo:
    """Read the claims of an Enphase JWT without verifying its signature."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(parts):
        raise EnvoyTokenError("The token is not a JWT (three dot-separated parts)")
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (binascii.Error, ValueError) as err:
        raise EnvoyTokenError("The token's payload is not base64url JSON") from err
    except RecursionError as err:
        # json.loads recurses per nesting level: a pasted token whose payload
        # nests deeply enough would otherwise escape as RecursionError.
        raise EnvoyTokenError("The token's payload is nested too deeply") from err
    if not isinstance(claims, dict):
        raise EnvoyTokenError("The token's payload is not a JSON object")
    expires_at = _claim_time(claims.get("exp"))
    if expires_at is None:
        raise EnvoyTokenError("The token has no valid expiry (exp claim)")
    return TokenInfo(
        serial=_audience(claims.get("aud")),
        role=_claim_str(claims.get("enphaseUser")),
        username=_claim_str(claims.get("username")),
        issued_at=_claim_time(claims.get("iat")),
        expires_at=expires_at,
    )


def _claim_str(value: object) -> str | None:
    """Return a string claim, or None when absent or not usable text."""
    if not isinstance(value, str):
        return None
    try:
        # A JSON escape can decode to a lone surrogate, which no UTF-8 writer
        # (logs, Home Assistant's storage) accepts: not a usable claim.
        value.encode()
    except UnicodeEncodeError:
        return None
    return value


def _audience(value: object) -> str | None:
    """Return the gateway serial from ``aud``, a string or a list of them."""
    if isinstance(value, list):
        return next(
            (text for item in value if (text := _claim_str(item)) is not None), None
        )
    return _claim_str(value)


def _claim_time(value: object) -> datetime | None:
    """Return an epoch-seconds claim as an aware datetime, or None when unusable."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except OverflowError, OSError, ValueError:
        return None
