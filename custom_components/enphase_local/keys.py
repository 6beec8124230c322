"""Names of energy state: the keys saved energy state is stored under.

These strings are a storage format: renaming one silently loses a saved
total (a wrap offset, a day's baseline). Build them only here; a test pins
them against a store file written by release 0.1.0.
"""

from enum import StrEnum

from .envoy import ProductionSource


class CtCounter(StrEnum):
    """The cumulative counters of a CT meter (or one of its phases)."""

    DELIVERED = "delivered"
    RECEIVED = "received"
    APPARENT = "apparent"
    REACTIVE_LAGGING = "reactive_lagging"
    REACTIVE_LEADING = "reactive_leading"


class SiteTotal(StrEnum):
    """The energy totals a user puts on the Energy dashboard."""

    PRODUCTION = "production"
    CONSUMPTION = "consumption"
    GRID_IMPORT = "grid_import"
    GRID_EXPORT = "grid_export"
    BATTERY_CHARGE = "battery_charge"
    BATTERY_DISCHARGE = "battery_discharge"


LEGACY_LIFETIME_KEYS = frozenset({"production", "consumption"})
"""Release 0.1.0 guarded its site-wide production and consumption counters
under these lifetime keys. Today's guards are keyed by the source
(``source_key``) and the CT (``ct_key``), and the published totals carry the
values on, so the migration drops these."""
LEGACY_GRID_KEY = "grid"
"""Release 0.1.0 kept load-only sites' grid integration in this section."""

GRID_SPLIT_KEY = "grid"
BATTERY_INTEGRATOR_KEY = "battery"


def ct_key(eid: int, counter: CtCounter, phase: int | None = None) -> str:
    """Return the key of one CT counter: the aggregate, or phase 1-3."""
    phase_part = "" if phase is None else f"_l{phase}"
    return f"ct_{eid}{phase_part}_{counter}"


def inverter_key(serial: str) -> str:
    """Return the key of one inverter's lifetime counter (and its day)."""
    return f"inverter_{serial}"


def source_key(source: ProductionSource) -> str:
    """Return the key of the guard on a non-CT production source's counter."""
    return f"source_{source}"


def split_source(key: str) -> str:
    """Return the source name a published total gives a split integrator."""
    return f"split_{key}"


def integrator_source(key: str) -> str:
    """Return the source name a published total gives a power integrator."""
    return f"integrated_{key}"
