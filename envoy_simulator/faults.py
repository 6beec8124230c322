"""Fault injection: misbehaviour switched on per endpoint, by request count or time."""

from dataclasses import dataclass, field
from itertools import count
from typing import Any, Literal, get_args

type FaultKind = Literal[
    "hang",
    "http_500",
    "http_503",
    "reset",
    "malformed_json",
    "html_page",
    "error_json",
    "not_found",
    "token_revoked",
    "zero_glitch",
    "counter_wrap",
    "active_count_zero",
    "stale",
    "outage",
]

FAULT_KINDS: tuple[str, ...] = get_args(FaultKind.__value__)
ANY_ENDPOINT = "*"
# Kinds that answer in place of the endpoint (the first active one wins).
RESPONSE_KINDS = frozenset(
    {"hang", "http_500", "http_503", "reset", "html_page", "error_json", "not_found"}
)
# Kinds that alter the real payload (they stack).
TRANSFORM_KINDS = frozenset(
    {"malformed_json", "zero_glitch", "active_count_zero", "stale"}
)

_ids = count(1)


@dataclass(eq=False)
class Fault:
    """One injected fault and how much of it is left."""

    endpoint: str
    kind: FaultKind
    count: int | None = None
    duration: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0
    hits: int = 0
    cleared: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    frozen_bodies: dict[str, bytes] = field(default_factory=dict, repr=False)
    revoked_token_ids: frozenset[str] = field(default_factory=frozenset, repr=False)

    @property
    def ends_at(self) -> float | None:
        """Return the simulator time the fault stops, if it is timed."""
        return None if self.duration is None else self.started_at + self.duration

    def active(self, now: float) -> bool:
        """Return whether the fault still applies at ``now``."""
        if self.cleared:
            return False
        if self.count is not None and self.hits >= self.count:
            return False
        ends_at = self.ends_at
        return ends_at is None or now < ends_at

    def matches(self, path: str) -> bool:
        """Return whether the fault targets ``path``."""
        return self.endpoint in (ANY_ENDPOINT, path)

    def as_dict(self, now: float) -> dict[str, Any]:
        """Describe the fault for the control API."""
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "count": self.count,
            "duration": self.duration,
            "params": self.params,
            "hits": self.hits,
            "active": self.active(now),
            "started_at": self.started_at,
        }


class FaultBook:
    """The faults currently injected."""

    def __init__(self) -> None:
        """Start without faults."""
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Register ``fault``."""
        if fault.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {fault.kind!r}; known: {', '.join(FAULT_KINDS)}"
            )
        if fault.count is not None and fault.count < 0:
            raise ValueError("count must be >= 0")
        if fault.duration is not None and fault.duration < 0:
            raise ValueError("duration must be >= 0")
        self._faults.append(fault)
        return fault

    def matching(self, path: str, now: float) -> list[Fault]:
        """Return the active faults for ``path``, oldest first."""
        self._faults = [f for f in self._faults if f.active(now)]
        return [f for f in self._faults if f.matches(path)]

    def active(self, now: float) -> list[Fault]:
        """Return every active fault."""
        self._faults = [f for f in self._faults if f.active(now)]
        return list(self._faults)

    def clear(self, endpoint: str | None = None) -> int:
        """Clear faults (all, or those injected for ``endpoint``); return how many."""
        cleared = 0
        for fault in self._faults:
            if endpoint is None or fault.endpoint == endpoint:
                fault.cleared = True
                cleared += 1
        self._faults = [f for f in self._faults if not f.cleared]
        return cleared
