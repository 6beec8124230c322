"""Request log and per-endpoint statistics, for tests and benchmarks."""

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

# Status recorded when no HTTP answer was sent (connection reset, hang abandoned).
NO_RESPONSE = 0
_LOG_LIMIT = 20000


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the gateway handled."""

    time: float
    method: str
    path: str
    status: int
    duration_s: float


@dataclass(slots=True)
class EndpointStats:
    """Counters for one endpoint path."""

    requests: int = 0
    status: dict[str, int] = field(default_factory=dict)
    busy_seconds: float = 0.0


class StatsBook:
    """Collect request records and per-path counters."""

    def __init__(self) -> None:
        """Start empty."""
        self.log: deque[RequestRecord] = deque(maxlen=_LOG_LIMIT)
        self.endpoints: dict[str, EndpointStats] = {}
        self.total_requests = 0
        self.busy_seconds = 0.0
        self.cloud: dict[str, int] = {}

    def record(self, record: RequestRecord, busy_seconds: float) -> None:
        """Count one request."""
        self.log.append(record)
        stats = self.endpoints.setdefault(record.path, EndpointStats())
        stats.requests += 1
        key = str(record.status)
        stats.status[key] = stats.status.get(key, 0) + 1
        stats.busy_seconds += busy_seconds
        self.total_requests += 1
        self.busy_seconds += busy_seconds

    def record_cloud(self, path: str) -> None:
        """Count one request to the fake cloud."""
        self.cloud[path] = self.cloud.get(path, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """Return the statistics as plain data."""
        return {
            "endpoints": {
                path: {
                    "requests": stats.requests,
                    "status": dict(stats.status),
                    "busy_seconds": round(stats.busy_seconds, 6),
                }
                for path, stats in sorted(self.endpoints.items())
            },
            "total_requests": self.total_requests,
            "busy_seconds": round(self.busy_seconds, 6),
            "cloud": dict(self.cloud),
        }

    def log_entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Return the newest ``limit`` log records as plain data."""
        records = list(self.log)
        if limit is not None:
            records = records[-limit:] if limit > 0 else []
        return [asdict(record) for record in records]

    def reset(self) -> None:
        """Forget everything counted so far."""
        self.log.clear()
        self.endpoints.clear()
        self.total_requests = 0
        self.busy_seconds = 0.0
        self.cloud.clear()
