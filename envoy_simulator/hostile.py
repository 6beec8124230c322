"""Hostile bodies: valid-looking answers that break naive parsers."""

from collections.abc import Callable
import json
import re

from .replies import Json

_XML_DECLARATION = re.compile(rb"^<\?xml[^>]*\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*(['"])[^'"]*\1""")


def nested_arrays(depth: int) -> bytes:
    """Return ``depth`` nested empty JSON arrays: ``[[[...]]]``."""
    return b"[" * depth + b"]" * depth


def dump_with_numbers(payload: Json, number: Callable[[int | float], str]) -> str:
    """Write ``payload`` as JSON, every number as ``number`` spells it."""
    if isinstance(payload, bool) or payload is None or isinstance(payload, str):
        return json.dumps(payload)
    if isinstance(payload, int | float):
        return number(payload)
    if isinstance(payload, dict):
        members = (
            f"{json.dumps(str(key))}: {dump_with_numbers(value, number)}"
            for key, value in payload.items()
        )
        return "{" + ", ".join(members) + "}"
    if isinstance(payload, list | tuple):
        return (
            "[" + ", ".join(dump_with_numbers(item, number) for item in payload) + "]"
        )
    raise TypeError(f"not a JSON value: {payload!r}")


def huge_integer(digits: int) -> Callable[[int | float], str]:
    """Return a speller writing every number as +/- 10**digits in full."""
    magnitude = "1" + "0" * digits

    def spell(value: float) -> str:
        return f"-{magnitude}" if value < 0 else magnitude

    return spell


def infinite(value: float) -> str:
    """Spell a number as an overflowing float literal with its sign."""
    return "-1e999" if value < 0 else "1e999"


def unknown_xml_encoding(body: bytes, encoding: str) -> bytes:
    """Return the XML ``body`` declaring ``encoding`` (which no codec knows)."""
    declaration = _XML_DECLARATION.match(body)
    wanted = f'encoding="{encoding}"'.encode()
    if declaration is None:
        return b'<?xml version="1.0" ' + wanted + b"?>\n" + body
    old = declaration.group(0)
    if _ENCODING.search(old):
        new = _ENCODING.sub(wanted, old, count=1)
    else:
        new = old[:-2].rstrip() + b" " + wanted + b"?>"
    return new + body[len(old) :]


def is_xml(body: bytes) -> bool:
    """Return whether ``body`` starts with an XML declaration."""
    return _XML_DECLARATION.match(body) is not None


def utf16_without_bom(body: bytes) -> bytes:
    """Return the UTF-8 ``body`` re-encoded as UTF-16 (little endian, no BOM)."""
    return body.decode("utf-8").encode("utf-16-le")


def invalid_utf8(body: bytes) -> bytes:
    """Return ``body`` with bytes no UTF-8 decoder accepts inside its first string."""
    quote = body.find(b'"')
    at = quote + 1 if quote >= 0 else 0
    # 0xC3 must be followed by a continuation byte; 0x28 is not one, 0xFF never is.
    return body[:at] + b"\xc3\x28\xff" + body[at:]
