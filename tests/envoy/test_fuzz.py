"""Seeded fuzzing of every parser of the client, and of the energy trackers.

The rule under test: whatever a gateway (or the Enphase cloud) answers, a
parser returns a typed model or raises an ``EnvoyError``. Nothing else leaves
it, and no number in a model it returns is non-finite or absurd (beyond the
parsers' 1e15), no epoch is one ``datetime`` cannot hold and no text is one
that cannot be written as UTF-8. Each parser is driven the way the client
drives it (raw bytes, ``body_to_json``, then ``parse_*``; or the byte-level
parsers) with no safety net around it: the parsers must not need one.

Cases are mutations of real samples (tests/envoy/fixtures): structural ones on
the JSON tree (type swaps, huge and non-finite numbers, counters far out of
range, duplicate keys, deep nesting, unicode junk, ``{"error": ...}``),
byte-level ones (flips, truncation, other encodings), XML ones for /info
(unknown encodings, DTDs, deep nesting) and whole hostile bodies. The
generators are seeded by target name: every run makes the same cases.
"""

import base64
from collections.abc import Callable, Iterator, Mapping, Sequence
import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
import json
import math
import random
import re
import time
import types
from typing import Any, get_args, get_origin, get_type_hints
import zlib

import pytest

from custom_components.enphase_local.counters import (
    EnergyBook,
    EnergyEvent,
    LifetimeTracker,
)
from custom_components.enphase_local.envoy.auth import decode_token
from custom_components.enphase_local.envoy.cloud import (
    parse_login_reply,
    parse_token_reply,
)
from custom_components.enphase_local.envoy.detect import all_zero
from custom_components.enphase_local.envoy.ensemble import (
    BatteryPower,
    DryContact,
    EnsembleAggregate,
    EnsembleInventory,
    Tariff,
    parse_dry_contacts,
    parse_ensemble_inventory,
    parse_ensemble_power,
    parse_ensemble_secctrl,
    parse_tariff,
)
from custom_components.enphase_local.envoy.exceptions import EnvoyDataError, EnvoyError
from custom_components.enphase_local.envoy.models import (
    ApiProduction,
    DeviceData,
    DevicePart,
    Endpoint,
    EnvoyInfo,
    Inverter,
    MeterReading,
    ProductionPage,
    ProductionReport,
    TokenInfo,
)
from custom_components.enphase_local.envoy.parsers import (
    body_to_json,
    match_meter_readings,
    merge_inverters,
    parse_api_production,
    parse_device_data,
    parse_device_inventory,
    parse_info,
    parse_inverters,
    parse_meter_readings,
    parse_meters,
    parse_production_page,
    parse_production_report,
)

from .helpers import FIXTURES, load_fixture, make_token

MAX_MAGNITUDE = 1e15
"""The parsers' bound on any number they return."""
MAX_EPOCH_S = 253_402_300_799
"""9999-12-31T23:59:59Z: the last second a ``datetime`` can hold."""
EPOCH_FIELDS = frozenset({"last_report_date", "timestamp", "reading_time"})
RAW_DOCUMENT_FIELDS = frozenset({"document", "settings"})
"""Whole documents kept verbatim to be written back: not values we read."""
SLOWEST_CASE_S = 2.0
"""A single case this slow means a blow-up (entities, regex backtracking)."""
MIN_ACCEPTED = 0.05
"""Share of cases that must still parse: mutations have to reach deep code."""


# JSON trees with nodes Python's json would never write


@dataclass(frozen=True, slots=True)
class Raw:
    """JSON text written verbatim (``1e999``, ``NaN``, a 5000-digit integer)."""

    text: str


@dataclass(frozen=True, slots=True)
class Pairs:
    """A JSON object that may repeat a key."""

    items: tuple[tuple[str, object], ...]


@dataclass(frozen=True, slots=True)
class Deep:
    """``inner`` wrapped in ``depth`` arrays or objects, written without recursion."""

    depth: int
    inner: object
    opening: str
    closing: str


type Path = tuple[str | int, ...]
"""Keys and indexes from the root of a JSON tree to one of its nodes."""

DELETE = Raw("")
"""Returned by a mutation to remove the node from its container."""


def dump(node: object) -> str:
    """Return ``node`` as JSON text."""
    if isinstance(node, Raw):
        return node.text
    if isinstance(node, Deep):
        return (
            f"{node.opening * node.depth}{dump(node.inner)}{node.closing * node.depth}"
        )
    if isinstance(node, Pairs):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in node.items) + "}"
    if isinstance(node, dict):
        return (
            "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in node.items()) + "}"
        )
    if isinstance(node, list):
        return "[" + ",".join(dump(item) for item in node) + "]"
    return json.dumps(node)


def paths(tree: object) -> tuple[list[Path], list[Path]]:
    """Return the path of every node of ``tree``, and of its objects and arrays."""
    every: list[Path] = []
    containers: list[Path] = []
    stack: list[tuple[Path, object]] = [((), tree)]
    while stack:
        path, node = stack.pop()
        every.append(path)
        if isinstance(node, dict):
            containers.append(path)
            stack.extend(((*path, key), value) for key, value in node.items())
        elif isinstance(node, list):
            containers.append(path)
            stack.extend(((*path, index), value) for index, value in enumerate(node))
    return every, containers


def replace_at(node: object, path: Path, change: Callable[[object], object]) -> object:
    """Return a copy of ``node`` with the node at ``path`` changed (or deleted)."""
    if not path:
        return change(node)
    key, rest = path[0], path[1:]
    if isinstance(node, dict):
        copied_dict = dict(node)
        value = replace_at(node[key], rest, change)
        if value is DELETE:
            del copied_dict[key]
        else:
            copied_dict[key] = value
        return copied_dict
    assert isinstance(node, list)
    assert isinstance(key, int)
    copied_list = list(node)
    value = replace_at(node[key], rest, change)
    if value is DELETE:
        del copied_list[key]
    else:
        copied_list[key] = value
    return copied_list


HOSTILE_NUMBERS: tuple[object, ...] = (
    0,
    -1,
    1,
    12.0,
    4.5,
    -0.0,
    2**31,
    2**31 - 1,
    2**32 - 4,
    2**32,
    2**53 + 1,
    2**63,
    2**64 + 7,
    10**15,
    10**15 + 1,
    -(10**15) - 1,
    10**18,
    10**400,
    -(10**400),
    1e15,
    1.0000001e15,
    1e300,
    -1e308,
    5e-324,
    253_402_300_800,
    -62_135_596_801,
    Raw("1e999"),
    Raw("-1e999"),
    Raw("1E400"),
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    Raw("-0"),
    Raw("1.5e-400"),
    Raw("9" * 4301),
    Raw("0x10"),
    Raw("+1"),
    Raw("01"),
    Raw("1_000"),
    Raw("."),
)
HOSTILE_STRINGS: tuple[object, ...] = (
    "",
    " ",
    "0",
    "-1",
    "1e999",
    "NaN",
    "true",
    "false",
    "null",
    "\x00",
    "\u202e\u200b",
    "é" * 40,
    "\U0001f50b",
    "\u0663\u0664",
    "\U0001d7e0",
    "x" * 5000,
    Raw('"\\ud800"'),
    Raw('"a\\udfff"'),
    Raw('"\\u0000"'),
    # Discriminators, so mutations also take the branches they guard.
    "closed",
    "open",
    "enabled",
    "pcu",
    "eim",
    "inverters",
    "production",
    "net-consumption",
    "total-consumption",
    "acb",
    "ENCHARGE",
    "ENPOWER",
    "COLLAR",
    "three",
    "split",
    "404 - Not Found",
)
EXTRA_KEYS = (
    "error",
    "devices",
    "devices:",
    "channels",
    "lines",
    "type",
    "tariff",
    "storage_settings",
    "secctrl",
    "relay",
    "dry_contacts",
    "production",
    "consumption",
    "storage",
    "deviceCount",
    "\ud800",
    "",
)
DEPTHS = (2, 10, 100, 333, 500, 990, 1000, 3000, 20_000, 100_000)
BRACKETS = (("[", "]"), ('{"a":', "}"), ('{"error":', "}"), ('[{"k":', "}]"))


def hostile_number(rng: random.Random, node: object) -> object:
    """Return an out-of-range or odd number, often a twisted version of ``node``."""
    if (
        isinstance(node, int | float)
        and not isinstance(node, bool)
        and abs(node) < 1e300
        and rng.random() < 0.4
    ):
        return rng.choice(
            (
                -node,
                node * 10**12,
                node + 2**32,
                2**32 - 1 - int(node),
                node * 10**300,
                node / 1000,
            )
        )
    return rng.choice(HOSTILE_NUMBERS)


def swap_type(rng: random.Random, node: object) -> object:
    """Return ``node`` as another JSON type (a flag flipped, often)."""
    if isinstance(node, bool) and rng.random() < 0.5:
        return not node
    return rng.choice(
        (
            str(node)[:200] if not isinstance(node, dict | list) else "{}",
            rng.choice((0, 1, -1, 3.5)),
            True,
            False,
            None,
            [node],
            {"value": node},
            [],
            {},
        )
    )


def rename_key(rng: random.Random, node: object) -> object:
    """Return an object with one key misspelt, emptied or made a lone surrogate."""
    if not isinstance(node, dict) or not node:
        return swap_type(rng, node)
    key = rng.choice(list(node))
    renamed = rng.choice(
        (
            key.upper(),
            f"{key} ",
            key[:-1],
            f"{key}\ud800",
            "\ud800",
            "",
            rng.choice(EXTRA_KEYS),
        )
    )
    return {(renamed if name == key else name): value for name, value in node.items()}


def duplicate_key(rng: random.Random, node: object) -> object:
    """Return an object repeating one of its keys, the hostile copy first or last."""
    if not isinstance(node, dict) or not node:
        return hostile_number(rng, node)
    key = rng.choice(list(node))
    twin = rng.choice((hostile_number(rng, node[key]), swap_type(rng, node[key])))
    items = list(node.items())
    items.insert(rng.choice((0, len(items))), (key, twin))
    return Pairs(tuple(items))


def deepen(rng: random.Random, node: object) -> object:
    """Return ``node`` (or junk) under many levels of arrays or objects."""
    opening, closing = rng.choice(BRACKETS)
    inner = node if rng.random() < 0.5 else rng.choice((1, "x", None, Raw("[]")))
    return Deep(rng.choice(DEPTHS), inner, opening, closing)


def add_extra(rng: random.Random, node: object) -> object:
    """Return ``node`` with an unexpected member, or with its entries repeated."""
    junk = rng.choice((hostile_number(rng, None), swap_type(rng, node), [], {}))
    if isinstance(node, dict):
        return {**node, rng.choice(EXTRA_KEYS): junk}
    if isinstance(node, list):
        if node and rng.random() < 0.5:
            return node * rng.choice((2, 17, 64))
        grown = list(node)
        grown.insert(rng.randint(0, len(grown)), junk)
        return grown
    return [node, junk]


TREE_MUTATIONS: tuple[Callable[[random.Random, object], object], ...] = (
    hostile_number,
    hostile_number,
    hostile_number,
    lambda rng, _node: rng.choice(HOSTILE_STRINGS),
    lambda rng, _node: rng.choice(HOSTILE_STRINGS),
    swap_type,
    swap_type,
    lambda _rng, _node: DELETE,
    lambda _rng, _node: DELETE,
    duplicate_key,
    rename_key,
    deepen,
    add_extra,
    lambda rng, node: {"error": rng.choice((node, "404 - Not Found", None, 5))},
)


def mutate_tree(rng: random.Random, tree: object) -> object:
    """Return ``tree`` with one node changed, removed, duplicated or deepened."""
    every, containers = paths(tree)
    # Leaves outnumber objects and arrays: favour these a little, so keys
    # (device ids, duplicates, misspellings) and entries get mutated too.
    path = rng.choice(containers if containers and rng.random() < 0.25 else every)
    mutation = rng.choice(TREE_MUTATIONS)
    mutated = replace_at(tree, path, lambda node: mutation(rng, node))
    return Raw("") if mutated is DELETE else mutated


BYTE_JUNK = (
    b"\xff",
    b"\x00",
    b"NaN",
    b"-Infinity",
    b"1e999",
    b"9" * 400,
    b"\\ud800",
    b'"',
    b"{",
    b"[",
    b"]",
    b"}",
    b",",
    b":",
    b"<",
    b"&#0;",
    b"&#xFFFFFFFF;",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"<!DOCTYPE a [<!ENTITY b 'c'>]>",
    b"\r\n",
)
ENCODINGS = ("utf-16", "utf-16-be", "utf-32", "latin-1", "cp037", "utf-8-sig")


def mutate_bytes(rng: random.Random, body: bytes) -> bytes:
    """Return ``body`` with a few byte-level accidents."""
    data = bytearray(body)
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        position = rng.randint(0, len(data))
        roll = rng.randrange(9)
        if roll == 0 and data:
            index = min(position, len(data) - 1)
            data[index] ^= 1 << rng.randrange(8)
        elif roll == 1 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif roll == 2:
            del data[position:]
        elif roll == 3:
            del data[position : position + rng.randint(1, 64)]
        elif roll == 4:
            data[position:position] = rng.randbytes(rng.randint(1, 16))
        elif roll == 5:
            data[position:position] = rng.choice(BYTE_JUNK)
        elif roll == 6:
            start = rng.randint(0, position)
            data[position:position] = data[start:position][:4096]
        elif roll == 7:
            data = bytearray(re.sub(rb"\d+", b"9" * 400, bytes(data), count=1))
        else:
            text = bytes(data).decode("utf-8", errors="replace")
            data = bytearray(text.encode(rng.choice(ENCODINGS), errors="replace"))
    return bytes(data)


DEEP_LIST = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
DEEP_PARSEABLE = b"[" * 2_000 + b"1" + b"]" * 2_000
HOSTILE_BODIES: tuple[bytes, ...] = (
    b"",
    b"   \r\n\t",
    b"\xef\xbb\xbf",
    b"\xef\xbb\xbf  {}",
    b"null",
    b"true",
    b"0",
    b"-1e999",
    b"NaN",
    b"Infinity",
    b"9" * 5000,
    b'"text"',
    b"[]",
    b"{}",
    b"[[]]",
    b"[{}]",
    b"[null]",
    b'{"error": "404 - Not Found"}',
    b'{"error": null}',
    b'{"error": {"code": 500, "message": "internal"}}',
    b'{"error": ' + DEEP_PARSEABLE + b"}",
    b'{"error": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
    b'{"error": ' + DEEP_LIST + b"}",
    b'{"error": "' + "é".encode() * 10_000 + b'"}',
    b'{"a": 1, "a": 2, "a": [], "a": null}',
    b'{"1\\ud800": {"devName": "pcu", "sn": "1"}}',
    b'{"1": {"devName": "pcu", "sn": "\\ud800", "modGone": true}}',
    b"<html><body><h1>Page Not Found</h1></body></html>",
    b"<!DOCTYPE html>\n<html><head><title>Envoy</title></head></html>",
    b"\n\n  <html>",
    DEEP_LIST,
    DEEP_OBJECT,
    DEEP_PARSEABLE,
    b"[" * 100_000,
    b'{"a":' * 100_000,
    b"\x00" * 64,
    b"\xff\xfe" + '{"a": 1}'.encode("utf-16-le"),
    '[{"eid": 1}]'.encode("utf-32"),
    bytes(range(256)),
    b"{" + b'"k": 1,' * 20_000 + b'"k": 2}',
)


# Cases and targets


@dataclass(frozen=True, slots=True)
class Case:
    """One input: a body, a second body (relay settings) and an HTTP status."""

    body: bytes
    extra: bytes | None = None
    status: int = 200


type Generator = Callable[[random.Random, int], Iterator[Case]]


def json_cases(*seeds: object) -> Generator:
    """Return a generator of mutated JSON bodies of ``seeds``."""

    def generate(rng: random.Random, count: int) -> Iterator[Case]:
        for index in range(count):
            yield Case(json_body(rng, seeds, index))

    return generate


def json_body(rng: random.Random, seeds: Sequence[object], index: int) -> bytes:
    """Return the ``index``-th mutated body: hostile bodies first, then mutations."""
    if index < len(HOSTILE_BODIES):
        return HOSTILE_BODIES[index]
    tree = rng.choice(seeds)
    roll = rng.random()
    if roll < 0.1:
        return mutate_bytes(rng, dump(tree).encode())
    for _ in range(rng.choice((1, 1, 1, 1, 2, 2, 3, 5))):
        tree = mutate_tree(rng, tree)
    body = dump(tree).encode()
    return mutate_bytes(rng, body) if roll > 0.85 else body


def dry_contact_cases(rng: random.Random, count: int) -> Iterator[Case]:
    """Mutate the relays' states, their settings, or both; sometimes no settings."""
    states = [load_fixture("ivp_ensemble_dry_contacts.json")]
    settings = [load_fixture("ivp_ss_dry_contact_settings.json")]
    for index in range(count):
        roll = rng.random()
        states_body = (
            json_body(rng, states, index) if roll < 0.6 else dump(states[0]).encode()
        )
        settings_body = (
            json_body(rng, settings, index)
            if roll >= 0.4
            else dump(settings[0]).encode()
        )
        yield Case(states_body, None if roll > 0.95 else settings_body)


XML_FIELDS = ("sn", "pn", "software", "imeter", "web-tokens", "device", "time")
XML_TEXTS = (
    "",
    " ",
    "D",
    "D" + "9" * 5000,
    "D" + "1." * 5000,
    "D99999999999999999999.1",
    "Dx",
    "D-1",
    "D.",
    "D8..2",
    "\u0663.\u0664",
    "D\uff18.\uff12",
    "\U0001d7e0.\U0001d7da.\U0001d7dc",
    "&amp;",
    "&#0;",
    "&#x1F600;",
    "&#xD800;",
    "&unknown;",
    "<![CDATA[D7.0]]>",
    "<b>D8</b>",
    "true",
    "TRUE",
    "yes",
    "x" * 100_000,
    "\U0001f50b",
)
XML_ENCODINGS = (
    "x-unknown",
    "utf-7",
    "UTF-16",
    "utf-32",
    "cp037",
    "shift_jis",
    "latin-1",
    "ascii",
    "idna",
    "rot13",
    "base64",
    "hex",
    "zlib",
    "punycode",
    "undefined",
    "mbcs",
    "utf-8-sig",
    "",
    "utf8\x00",
    "ISO-8859-1",
)
LAUGHS = '<!ENTITY a "aaaaaaaaaa">' + "".join(
    f'<!ENTITY {chr(98 + level)} "{("&" + chr(97 + level) + ";") * 10}">'
    for level in range(6)
)
XML_DTDS = (
    "<!DOCTYPE envoy_info>",
    f"<!DOCTYPE envoy_info [{LAUGHS}]>",
    '<!DOCTYPE envoy_info [<!ENTITY sn SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE envoy_info [<!ENTITY % p "x"> %p;]>',
    '<!doctype envoy_info [<!ENTITY a "1">]>',
)


def xml_cases(rng: random.Random, count: int) -> Iterator[Case]:
    """Mutate /info documents: fields, encodings, DTDs, nesting, bytes."""
    seeds = [(FIXTURES / name).read_text() for name in ("info.xml", "info_envoy_r.xml")]
    specials = (
        *HOSTILE_BODIES[:30],
        b"<",
        b"<?xml",
        b"<envoy_info/>",
        b"<envoy_info><device><sn>1</sn><software>D7</software></device></envoy_info>",
        b"<a>" * 100_000 + b"</a>" * 100_000,
        b"<envoy_info>"
        + b"<device>" * 50_000
        + b"</device>" * 50_000
        + b"</envoy_info>",
    )
    for index in range(count):
        if index < len(specials):
            yield Case(specials[index])
            continue
        text = rng.choice(seeds)
        for _ in range(rng.choice((1, 1, 2, 3))):
            text = mutate_xml(rng, text)
        body = encode_xml(rng, text)
        yield Case(mutate_bytes(rng, body) if rng.random() < 0.15 else body)


def mutate_xml(rng: random.Random, text: str) -> str:
    """Return the document with one XML-level change."""
    tag = rng.choice(XML_FIELDS)
    element = re.compile(rf"<{tag}>.*?</{tag}>", re.DOTALL)
    roll = rng.randrange(8)
    if roll == 0:
        return element.sub(f"<{tag}>{rng.choice(XML_TEXTS)}</{tag}>", text, count=1)
    if roll == 1:
        return element.sub("", text, count=1)
    if roll == 2:
        return element.sub(
            lambda found: found.group() * rng.choice((2, 500)), text, count=1
        )
    if roll == 3:
        return re.sub(
            r"encoding='[^']*'",
            f"encoding='{rng.choice(XML_ENCODINGS)}'",
            text,
            count=1,
        )
    if roll == 4:
        dtd = rng.choice(XML_DTDS)
        return text.replace("?>", f"?>\n{dtd}", 1) if "?>" in text else dtd + text
    if roll == 5:
        depth = rng.choice((10, 1000, 20_000))
        return text.replace("<device>", "<x>" * depth + "<device>", 1).replace(
            "</device>", "</device>" + "</x>" * depth, 1
        )
    if roll == 6:
        return text.replace("<?xml version='1.0' encoding='UTF-8'?>", "", 1)
    return text.replace("<device>", f"<device><sn>{rng.choice(XML_TEXTS)}</sn>", 1)


def encode_xml(rng: random.Random, text: str) -> bytes:
    """Return the document as bytes, usually UTF-8, sometimes another encoding."""
    roll = rng.random()
    if roll < 0.8:
        return text.encode()
    return text.encode(rng.choice(ENCODINGS), errors="replace")


PAGE_NUMBERS = (
    "1e999",
    "9" * 400,
    "9" * 20,
    "-5",
    "1,2,3,4",
    "\u0666.\u0666\u0663",
    "\uff16.\uff16\uff13",
    "1" * 100_000,
    "0",
    "-0",
    "0." + "0" * 400 + "1",
    ",",
    "999,999,999,999,999,999",
)
PAGE_UNITS = ("KW", "\u212aW", "GWh", "W h", "mWh", "MWH", "kwh", "Wh", "MW", "w")
PAGE_JUNK = (
    "&#99999999999;",
    "&#x110000;",
    "&#0;",
    "&nbsp;" * 1000,
    "<td",
    "<!--",
    "<script>Currently 1 kW</script>",
    "Currently Currently Currently",
    "Since Installation " * 5000,
    " " * 300_000,
)


def page_cases(rng: random.Random, count: int) -> Iterator[Case]:
    """Mutate the HTML /production page: numbers, units, labels, markup, bytes."""
    seed = (FIXTURES / "production_page.html").read_text()
    for index in range(count):
        if index < len(HOSTILE_BODIES):
            yield Case(HOSTILE_BODIES[index])
            continue
        text = seed
        for _ in range(rng.choice((1, 1, 2, 4))):
            # The parser reads 200,000 bytes: longer pages only cost time.
            text = mutate_page(rng, text)[:300_000]
        body = text.encode()
        yield Case(mutate_bytes(rng, body) if rng.random() < 0.2 else body)


def mutate_page(rng: random.Random, text: str) -> str:
    """Return the page with one change to a figure, a unit or the markup."""
    roll = rng.randrange(5)
    if roll == 0:
        return re.sub(
            r"\d[\d.]*", rng.choice(PAGE_NUMBERS), text, count=rng.randint(1, 4)
        )
    if roll == 1:
        return re.sub(r"\b(kW|kWh|MWh)\b", rng.choice(PAGE_UNITS), text, count=1)
    if roll == 2:
        position = rng.randint(0, len(text))
        return text[:position] + rng.choice(PAGE_JUNK) + text[position:]
    if roll == 3:
        row = rng.choice(re.findall(r"<tr>.*?</tr>", text) or [text])
        return text.replace(row, row * rng.choice((0, 2, 1000)), 1)
    return re.sub(r"<[^>]*>", "", text, count=rng.randint(1, 50))


CLAIMS = {
    "aud": "122112123456",
    "iss": "Entrez",
    "enphaseUser": "owner",
    "exp": 1785236000,
    "iat": 1753700000,
    "jti": "2d3f4e5a-0000-4000-8000-000000000000",
    "username": "owner@example.com",
}


def token_cases(rng: random.Random, count: int) -> Iterator[Case]:
    """Mutate JWTs: their claims as JSON, or the token text itself."""
    header = make_token(CLAIMS).split(".")[0]
    for index in range(count):
        roll = rng.random()
        if roll < 0.7:
            claims = json_body(rng, [CLAIMS], index)
            payload = segment(claims)
            yield Case(f"{header}.{payload}.c2lnbmF0dXJl".encode())
        else:
            yield Case(mutate_token(rng, make_token(CLAIMS).encode()))


def segment(raw: bytes) -> str:
    """Return ``raw`` as an unpadded base64url segment."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def mutate_token(rng: random.Random, token: bytes) -> bytes:
    """Return the token text with dots, padding, junk or bytes changed."""
    roll = rng.randrange(6)
    if roll == 0:
        return token.replace(b".", b"", rng.randint(1, 2))
    if roll == 1:
        return token.replace(b".", b"..", 1)
    if roll == 2:
        head, _, rest = token.partition(b".")
        return head + b"." + rest.replace(b".", b"===.", 1)
    if roll == 3:
        return b"  " + token + b"\n\t"
    if roll == 4:
        head, _, rest = token.partition(b".")
        return (
            head + b"." + segment(DEEP_LIST).encode() + b"." + rest.partition(b".")[2]
        )
    return mutate_bytes(rng, token)


def login_cases(rng: random.Random, count: int) -> Iterator[Case]:
    """Mutate the Enlighten login answer, and its status now and then."""
    seed = {"session_id": "s-123", "manager_token": "m-456", "is_consumer": True}
    for index, case in enumerate(json_cases(seed)(rng, count)):
        yield Case(case.body, status=random_status(rng, index))


def cloud_token_cases(rng: random.Random, count: int) -> Iterator[Case]:
    """Mutate Entrez's answer: a raw JWT, or JSON carrying it."""
    token = make_token(CLAIMS)
    seed = {"token": token, "expires_at": 1785236000, "generation_time": 1753700000}
    for index in range(count):
        status = random_status(rng, index)
        if rng.random() < 0.3:
            raw = f"{token}\n".encode()
            yield Case(mutate_token(rng, raw), status=status)
        else:
            yield Case(json_body(rng, [seed], index), status=status)


def random_status(rng: random.Random, index: int) -> int:
    """Return 200 mostly, otherwise a status the cloud might answer."""
    if index % 10:
        return 200
    return rng.choice((401, 403, 500, 302, 0, 999, -1))


@dataclass(frozen=True, slots=True)
class Target:
    """A parser, how its cases are made, and what it must return."""

    name: str
    count: int
    cases: Generator
    parse: Callable[[Case], object]
    returns: object
    """The type hint the result must conform to."""


def client_json[T](
    endpoint: Endpoint, parse: Callable[[object], T]
) -> Callable[[Case], T]:
    """Return a case parser doing what the client does: body_to_json, then parse."""
    return lambda case: parse(body_to_json(case.body, endpoint))


SEED_METERS = parse_meters(load_fixture("ivp_meters.json"))
SEED_READINGS = parse_meter_readings(load_fixture("ivp_meters_readings.json"))
SEED_INVERTERS = parse_inverters(load_fixture("api_inverters.json"))
SEED_DEVICE_DATA = parse_device_data(load_fixture("ivp_pdm_device_data.json"))
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def parse_meters_matched(case: Case) -> dict[int, MeterReading]:
    """Parse /ivp/meters and pair it with the seed readings, as detection does."""
    meters = parse_meters(body_to_json(case.body, Endpoint.METERS))
    return match_meter_readings(meters, SEED_READINGS)


def parse_readings_matched(
    case: Case,
) -> tuple[list[MeterReading], dict[int, MeterReading]]:
    """Parse /ivp/meters/readings and pair it with the seed meters."""
    readings = parse_meter_readings(body_to_json(case.body, Endpoint.METER_READINGS))
    return readings, match_meter_readings(SEED_METERS, readings)


def parse_api_production_checked(case: Case) -> tuple[ApiProduction, bool]:
    """Parse /api/v1/production and judge it all zeros, as the client does."""
    production = parse_api_production(body_to_json(case.body, Endpoint.API_PRODUCTION))
    return production, all_zero(production)


def parse_inverters_merged(case: Case) -> dict[str, Inverter]:
    """Parse /api/v1/production/inverters and merge it with seed device_data."""
    inverters = parse_inverters(body_to_json(case.body, Endpoint.API_INVERTERS))
    return dict(merge_inverters(inverters, SEED_DEVICE_DATA))


def parse_device_data_merged(case: Case) -> tuple[DeviceData, dict[str, Inverter]]:
    """Parse /ivp/pdm/device_data and merge it with the seed inverter list."""
    device_data = parse_device_data(body_to_json(case.body, Endpoint.DEVICE_DATA))
    return device_data, dict(merge_inverters(SEED_INVERTERS, device_data))


def parse_tariff_for_write(case: Case) -> tuple[Tariff, object]:
    """Parse the tariff and build the document a storage change would write."""
    tariff = parse_tariff(body_to_json(case.body, Endpoint.TARIFF))
    try:
        document = tariff.with_storage(mode="backup", reserved_soc=40.0)
    except EnvoyError:
        document = None
    return tariff, document


def parse_relays(case: Case) -> tuple[DryContact, ...]:
    """Parse the relays' states and settings, each body read as the client does."""
    states = body_to_json(case.body, Endpoint.DRY_CONTACTS)
    settings = (
        None
        if case.extra is None
        else body_to_json(case.extra, Endpoint.DRY_CONTACT_SETTINGS)
    )
    return parse_dry_contacts(states, settings)


def parse_token(case: Case) -> tuple[TokenInfo, bool]:
    """Decode a JWT typed or pasted by a user, and ask whether it expired."""
    info = decode_token(case.body.decode("utf-8", errors="surrogateescape"))
    return info, info.is_expired(NOW)


INVERTER_HINT = dict[str, Inverter]
TARGETS = (
    Target(
        "info",
        2_000,
        xml_cases,
        lambda case: parse_info(case.body),
        EnvoyInfo,
    ),
    Target(
        "api_production",
        1_300,
        json_cases(load_fixture("api_production.json")),
        parse_api_production_checked,
        tuple[ApiProduction, bool],
    ),
    Target(
        "api_inverters",
        1_300,
        json_cases(load_fixture("api_inverters.json")),
        parse_inverters_merged,
        INVERTER_HINT,
    ),
    Target(
        "meters",
        1_300,
        json_cases(load_fixture("ivp_meters.json")),
        parse_meters_matched,
        dict[int, MeterReading],
    ),
    Target(
        "meter_readings",
        1_300,
        json_cases(load_fixture("ivp_meters_readings.json")),
        parse_readings_matched,
        tuple[list[MeterReading], dict[int, MeterReading]],
    ),
    Target(
        "device_data",
        1_300,
        json_cases(load_fixture("ivp_pdm_device_data.json")),
        parse_device_data_merged,
        tuple[DeviceData, INVERTER_HINT],
    ),
    Target(
        "production_json",
        1_300,
        json_cases(load_fixture("production.json")),
        client_json(Endpoint.PRODUCTION_JSON, parse_production_report),
        ProductionReport,
    ),
    Target(
        "production_json_details",
        1_300,
        json_cases(load_fixture("production_json_details.json")),
        client_json(Endpoint.PRODUCTION_JSON, parse_production_report),
        ProductionReport,
    ),
    Target(
        "production_json_on_production",
        700,
        json_cases(load_fixture("production.json")),
        client_json(
            Endpoint.PRODUCTION,
            lambda obj: parse_production_report(obj, endpoint=Endpoint.PRODUCTION),
        ),
        ProductionReport,
    ),
    Target(
        "production_page",
        1_500,
        page_cases,
        lambda case: parse_production_page(case.body),
        ProductionPage,
    ),
    Target(
        "ensemble_inventory",
        1_300,
        json_cases(load_fixture("ivp_ensemble_inventory.json")),
        client_json(Endpoint.ENSEMBLE_INVENTORY, parse_ensemble_inventory),
        EnsembleInventory,
    ),
    Target(
        "ensemble_secctrl",
        1_000,
        json_cases(load_fixture("ivp_ensemble_secctrl.json")),
        client_json(Endpoint.ENSEMBLE_SECCTRL, parse_ensemble_secctrl),
        EnsembleAggregate,
    ),
    Target(
        "ensemble_status",
        1_000,
        json_cases(load_fixture("ivp_ensemble_status.json")),
        client_json(
            Endpoint.ENSEMBLE_STATUS,
            lambda obj: parse_ensemble_secctrl(obj, endpoint=Endpoint.ENSEMBLE_STATUS),
        ),
        EnsembleAggregate,
    ),
    Target(
        "ensemble_power",
        1_000,
        json_cases(load_fixture("ivp_ensemble_power.json")),
        client_json(Endpoint.ENSEMBLE_POWER, parse_ensemble_power),
        tuple[BatteryPower, ...],
    ),
    Target(
        "tariff",
        1_300,
        json_cases(load_fixture("admin_lib_tariff.json")),
        parse_tariff_for_write,
        tuple[Tariff, object],
    ),
    Target(
        "dry_contacts",
        1_300,
        dry_contact_cases,
        parse_relays,
        tuple[DryContact, ...],
    ),
    Target("jwt", 1_500, token_cases, parse_token, tuple[TokenInfo, bool]),
    Target(
        "inventory_json",
        700,
        json_cases(load_fixture("inventory.json")),
        client_json(Endpoint.INVENTORY_JSON, parse_device_inventory),
        dict[str, DevicePart],
    ),
    Target(
        "cloud_login",
        800,
        login_cases,
        lambda case: parse_login_reply(case.status, case.body),
        str,
    ),
    Target(
        "cloud_token",
        800,
        cloud_token_cases,
        lambda case: parse_token_reply(case.status, case.body),
        str,
    ),
)


# What a returned model must look like


def conformance(value: object, hint: object, where: str) -> list[str]:
    """Return what is wrong with ``value`` as a ``hint``: types, bounds, text."""
    if hint is Any:
        return loose_values(value, where)
    origin, args = get_origin(hint), get_args(hint)
    if origin is types.UnionType:
        attempts = [conformance(value, arm, where) for arm in args]
        return [] if any(not found for found in attempts) else min(attempts, key=len)
    if origin is tuple:
        if not isinstance(value, tuple):
            return [f"{where}: {type(value).__name__} is not a tuple"]
        arms = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        if len(arms) != len(value):
            return [f"{where}: tuple of {len(value)}, expected {len(arms)}"]
        return [
            problem
            for index, (item, arm) in enumerate(zip(value, arms, strict=True))
            for problem in conformance(item, arm, f"{where}[{index}]")
        ]
    if origin in (list, frozenset):
        if not isinstance(value, origin):
            return [f"{where}: {type(value).__name__} is not a {origin.__name__}"]
        return [
            problem
            for index, item in enumerate(value)
            for problem in conformance(item, args[0], f"{where}[{index}]")
        ]
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            return [f"{where}: {type(value).__name__} is not a mapping"]
        return [
            problem
            for key, item in value.items()
            for problem in (
                *conformance(key, args[0], f"{where} key"),
                *conformance(item, args[1], f"{where}[{key!r}]"),
            )
        ]
    assert isinstance(hint, type), hint
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return number_problems(value, where)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        return [f"{where}: {type(value).__name__} is not {hint.__name__}"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_problems(value, where)
    if isinstance(value, str):
        return text_problems(value, where)
    if isinstance(value, datetime) and value.tzinfo is None:
        return [f"{where}: a naive datetime"]
    if dataclasses.is_dataclass(value):
        return model_problems(value, where)
    return []


def model_problems(model: Any, where: str) -> list[str]:
    """Return what is wrong with a model's fields and properties."""
    cls = type(model)
    hints = get_type_hints(cls)
    problems: list[str] = []
    for model_field in dataclasses.fields(model):
        name = model_field.name
        value = getattr(model, name)
        at = f"{where}.{name}"
        if name in RAW_DOCUMENT_FIELDS:
            continue
        problems.extend(conformance(value, hints[name], at))
        if name in EPOCH_FIELDS and isinstance(value, int) and value:
            problems.extend(epoch_problems(value, at))
    for name, attribute in vars(cls).items():
        if isinstance(attribute, property):
            problems.extend(loose_values(getattr(model, name), f"{where}.{name}"))
    return problems


def loose_values(value: object, where: str) -> list[str]:
    """Return the problems of numbers and text anywhere inside ``value``."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return number_problems(value, where)
    if isinstance(value, str):
        return text_problems(value, where)
    if isinstance(value, Mapping):
        return [
            p
            for key, item in value.items()
            for p in loose_values(item, f"{where}[{key!r}]")
        ]
    if isinstance(value, list | tuple):
        return [
            p
            for index, item in enumerate(value)
            for p in loose_values(item, f"{where}[{index}]")
        ]
    return []


def number_problems(value: float, where: str) -> list[str]:
    """Return a problem when a number is non-finite or beyond the parsers' bound."""
    # Compared, not converted: an int beyond float range is a finding, not a crash.
    if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
        return [f"{where}: absurd number {str(value)[:40]}"]
    return []


def epoch_problems(value: int, where: str) -> list[str]:
    """Return a problem when an epoch cannot become a ``datetime``."""
    if not 0 <= value <= MAX_EPOCH_S:
        return [f"{where}: epoch {value} is not a time"]
    return []


def text_problems(value: str, where: str) -> list[str]:
    """Return a problem when text cannot be written as UTF-8 (lone surrogates)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return [f"{where}: text that is not UTF-8: {value!r:.40}"]
    return []


# The fuzz runs


@dataclass(slots=True)
class Outcome:
    """What one target's run found."""

    cases: int = 0
    accepted: int = 0
    slowest_s: float = 0.0
    problems: list[str] = dataclasses.field(default_factory=list)


def seeded(name: str) -> random.Random:
    """Return a generator seeded by ``name``: the same cases on every run."""
    return random.Random(zlib.crc32(name.encode()))  # noqa: S311 -- not for secrets


def run(target: Target) -> Outcome:
    """Feed every case of ``target`` to its parser; collect what broke the rule."""
    rng = seeded(target.name)
    outcome = Outcome()
    for index, case in enumerate(target.cases(rng, target.count)):
        outcome.cases += 1
        started = time.perf_counter()
        try:
            result = target.parse(case)
        except EnvoyError:
            result = None
        except Exception as err:  # noqa: BLE001 -- exactly what this test hunts for
            outcome.problems.append(
                f"case {index}: {type(err).__name__}: {err!s:.100} "
                f"from {case.body[:120]!r} status {case.status}"
            )
            continue
        finally:
            outcome.slowest_s = max(outcome.slowest_s, time.perf_counter() - started)
        if result is not None:
            outcome.accepted += 1
            outcome.problems.extend(
                f"case {index}: {problem} from {case.body[:120]!r}"
                for problem in conformance(result, target.returns, target.name)
            )
    return outcome


def test_enough_cases() -> None:
    """At least 20,000 cases in all, every parser of the client covered."""
    assert sum(target.count for target in TARGETS) >= 20_000
    assert len({target.name for target in TARGETS}) == len(TARGETS)


@pytest.mark.parametrize("target", TARGETS, ids=[target.name for target in TARGETS])
def test_parser_returns_a_model_or_raises_envoy_error(target: Target) -> None:
    """Every case: a sane typed model or an EnvoyError, nothing else, never slow."""
    outcome = run(target)

    assert outcome.cases == target.count
    assert not outcome.problems, "\n".join(
        [f"{len(outcome.problems)} problems:", *outcome.problems[:25]]
    )
    assert outcome.accepted >= MIN_ACCEPTED * target.count
    assert outcome.slowest_s < SLOWEST_CASE_S


# Energy trackers with hostile saved state and readings

HOSTILE_STATE_VALUES: tuple[object, ...] = (
    None,
    True,
    "12",
    "",
    0,
    -5,
    -0.0,
    5e-324,
    1e11,
    1e11 + 1,
    -1e11,
    1e300,
    -1e300,
    10**400,
    -(10**400),
    2**63,
    float("nan"),
    float("inf"),
    float("-inf"),
    [1, 2],
    {"value_wh": 5},
    [[[[[]]]]],
    "9" * 5000,
    "2025-06-01",
    "2025-13-45",
    "\ud800",
)
STATE_KEYS = (
    "value_wh",
    "last_raw_wh",
    "offset_wh",
    "last_accepted",
    "source",
    "source_wh",
    "deficit_wh",
    "import_wh",
    "export_wh",
    "positive_wh",
    "negative_wh",
    "last_power_w",
    "last_time",
    "last_today_wh",
    "day",
    "baseline_wh",
    "last_total_wh",
)
SECTIONS = (
    "lifetimes",
    "dailies",
    "totals",
    "balances",
    "splits",
    "integrators",
    "day_counted",
)
TRACKER_KEYS = ("production", "net_import", "inverter_1", "\ud800", "")
START = 1_753_700_000.0


def saved_state(rng: random.Random, section: str) -> dict[str, object]:
    """Return plausible saved state of one tracker, as ``as_dict`` writes it."""
    energy = rng.uniform(0, 5e7)
    states: dict[str, dict[str, object]] = {
        "lifetimes": {
            "value_wh": energy,
            "last_raw_wh": energy - rng.uniform(0, 1e6),
            "offset_wh": rng.uniform(0, 1e6),
            "last_accepted": START - rng.uniform(0, 1e5),
        },
        "dailies": {
            "day": "2025-06-01",
            "baseline_wh": energy,
            "last_total_wh": energy + rng.uniform(0, 5e4),
        },
        "totals": {"value_wh": energy, "source": "ct", "source_wh": energy},
        "balances": {"value_wh": energy, "deficit_wh": -rng.uniform(0, 100)},
        "splits": {"import_wh": energy, "export_wh": energy / 2},
        "integrators": {
            "positive_wh": energy,
            "negative_wh": energy / 3,
            "last_power_w": rng.uniform(-5e3, 5e3),
            "last_time": START - 60,
        },
        "day_counted": {"value_wh": energy, "last_today_wh": rng.uniform(0, 5e4)},
    }
    return states[section]


def hostile_state(rng: random.Random) -> object:
    """Return saved energy state as a damaged or hostile store might hold it.

    Mostly what the trackers save with a few fields damaged (so restores get
    far), sometimes junk where a section or a tracker's state should be.
    """
    if rng.random() < 0.05:
        return rng.choice((None, [], "state", 5, {"lifetimes": []}))
    book: dict[str, object] = {}
    for section in SECTIONS:
        if rng.random() < 0.1:
            book[section] = rng.choice(HOSTILE_STATE_VALUES)
            continue
        trackers: dict[str, object] = {}
        for key in rng.sample(TRACKER_KEYS, rng.randint(0, len(TRACKER_KEYS))):
            if rng.random() < 0.1:
                trackers[key] = rng.choice(HOSTILE_STATE_VALUES)
                continue
            state = saved_state(rng, section)
            for name in rng.sample(STATE_KEYS, rng.choice((0, 1, 1, 2, 3))):
                state[name] = rng.choice(HOSTILE_STATE_VALUES)
            for name in rng.sample(list(state), rng.choice((0, 0, 0, 1))):
                del state[name]
            trackers[key] = state
        book[section] = trackers
    return book


def hostile_reading(rng: random.Random, counter: float) -> object:
    """Return the next raw counter reading: mostly plausible, often not."""
    roll = rng.random()
    if roll < 0.45:
        return counter
    if roll < 0.55:
        return 0
    if roll < 0.62:
        return max(counter - 2**32 / 3600 * rng.randint(1, 9), 0.0)
    if roll < 0.7:
        return counter * rng.choice((0.5, 1.5, 10.0, 1000.0))
    return rng.choice((*HOSTILE_STATE_VALUES, -counter, counter + 1e10, 10**300))


def clock_step(rng: random.Random) -> float:
    """Return the time to the next poll: usually a minute, sometimes a jump."""
    return rng.choice((60.0, 60.0, 60.0, 15.0, 0.0, -3600.0, 86_400.0, 3.2e7, -1e9))


@dataclass(slots=True)
class TotalWatch:
    """Check a total over time: finite, non-negative, never decreasing."""

    name: str
    last: float | None = None
    problems: list[str] = dataclasses.field(default_factory=list)

    def see(self, value: float | None, step: int) -> None:
        """Check the total's value after one step."""
        if value is None:
            return
        if not math.isfinite(value) or value < 0 or value > MAX_MAGNITUDE:
            self.problems.append(f"{self.name} step {step}: {value!r}")
        elif self.last is not None and value < self.last:
            self.problems.append(f"{self.name} step {step}: {self.last} -> {value}")
        self.last = value


def exercise_book(rng: random.Random, steps: int) -> list[str]:
    """Restore a hostile book, then feed its trackers hostile readings."""
    problems: list[str] = []
    try:
        book = EnergyBook.from_dict(hostile_state(rng))
        lifetime = book.lifetime(
            rng.choice(TRACKER_KEYS),
            wraps=rng.random() < 0.5,
            max_power_w=rng.choice((1_000.0, 150_000.0, 200_000.0)),
        )
        key = rng.choice(TRACKER_KEYS)
        carried, daily = book.total(key), book.daily(key)
        balance, split = book.balance(key), book.split(key)
        integrator, day_counted = book.integrator(key), book.day_counted_total(key)
    except Exception as err:  # noqa: BLE001 -- exactly what this test hunts for
        return [f"restore: {type(err).__name__}: {err!s:.100}"]
    watches = {
        name: TotalWatch(name)
        for name in (
            "lifetime",
            "carried",
            "balance",
            "import",
            "export",
            "charge",
            "discharge",
            "day_counted",
        )
    }
    now, counter, today = START, rng.uniform(0, 5e7), date(2025, 6, 1)
    for step in range(steps):
        now += clock_step(rng)
        counter += rng.uniform(0, 500)
        if rng.random() < 0.05:
            today += timedelta(days=1)
            book.roll_over(today)
            if carried.value_wh is not None:
                daily.seed(today, carried.value_wh, rng.choice((0.0, 5e3, -5.0, 1e15)))
        try:
            event = lifetime.update(hostile_reading(rng, counter), now)
            growth = carried.update(rng.choice(("ct", "api")), lifetime.value_wh)
            daily_wh = daily.update(carried.value_wh, today)
            balance.start(rng.uniform(0, 1e9))
            balance.add(growth - rng.uniform(0, 600))
            split.add(rng.uniform(-600, 600))
            integrator.update(rng.choice((rng.uniform(-1e4, 1e4), None, math.nan)), now)
            page_total = day_counted.update(
                hostile_reading(rng, counter),  # type: ignore[arg-type]
                rng.choice((1.0, 1e3, 1e6)),
                hostile_reading(rng, counter / 1000),  # type: ignore[arg-type]
            )
            saved = [
                value
                for tracker in (lifetime, carried, daily, balance, split, integrator)
                for value in tracker.as_dict().values()
            ]
            saved.extend(day_counted.as_dict().values())
        except Exception as err:  # noqa: BLE001 -- exactly what this test hunts for
            problems.append(f"step {step}: {type(err).__name__}: {err!s:.100}")
            break
        assert event is None or isinstance(event, EnergyEvent)
        problems.extend(
            f"step {step}: saved {value!r}"
            for value in saved
            if isinstance(value, float) and not math.isfinite(value)
        )
        for name, value in (
            ("lifetime", lifetime.value_wh),
            ("carried", carried.value_wh),
            ("balance", balance.value_wh),
            ("import", split.positive_wh),
            ("export", split.negative_wh),
            ("discharge", integrator.positive_wh),
            ("charge", integrator.negative_wh),
            ("day_counted", page_total),
        ):
            watches[name].see(value, step)
        if daily_wh is not None and (not math.isfinite(daily_wh) or daily_wh < 0):
            problems.append(f"step {step}: daily {daily_wh!r}")
    for watch in watches.values():
        problems.extend(watch.problems)
    return problems


def test_energy_book_survives_hostile_state_and_readings() -> None:
    """Totals stay finite, non-negative and never decrease, whatever was stored."""
    rng = seeded("energy book")
    problems = [
        f"book {index}: {problem}"
        for index in range(400)
        for problem in exercise_book(rng, 12)
    ]

    assert not problems, "\n".join(problems[:25])


def test_lifetime_tracker_survives_hostile_readings() -> None:
    """A long run of glitching readings: the total stays sane and never decreases."""
    rng = seeded("lifetime tracker")
    problems: list[str] = []
    for run_index in range(20):
        tracker = LifetimeTracker(wraps=run_index % 2 == 0, max_power_w=200_000.0)
        tracker.restore(
            {
                name: rng.choice((*HOSTILE_STATE_VALUES, rng.uniform(-1e11, 1e11)))
                for name in STATE_KEYS[:4]
            }
        )
        watch = TotalWatch(f"run {run_index}")
        now, counter = START, rng.uniform(0, 1e8)
        for step in range(250):
            now += clock_step(rng)
            counter += rng.uniform(0, 3000)
            try:
                tracker.update(hostile_reading(rng, counter), now)
            except Exception as err:  # noqa: BLE001 -- exactly what this test hunts for
                problems.append(f"run {run_index} step {step}: {type(err).__name__}")
                break
            watch.see(tracker.value_wh, step)
        problems.extend(watch.problems)

    assert not problems, "\n".join(problems[:25])


@pytest.mark.parametrize(
    ("declared", "codec"),
    [
        ("UTF-8", "utf-8"),
        ("UTF-16", "utf-16"),
        ("UTF-16", "utf-16-le"),
        ("UTF-16", "utf-16-be"),
        ("ISO-8859-1", "latin-1"),
    ],
)
def test_info_refuses_a_dtd_in_any_encoding(declared: str, codec: str) -> None:
    """A DTD is refused as the XML is read: a search of the raw bytes misses UTF-16."""
    document = (
        f'<?xml version="1.0" encoding="{declared}"?>'
        '<!DOCTYPE envoy_info [<!ENTITY serial "expanded">]>'
        "<envoy_info><device><sn>&serial;</sn><software>D8.2</software></device>"
        "</envoy_info>"
    )

    with pytest.raises(EnvoyDataError, match="DTD"):
        parse_info(document.encode(codec))
