"""Constants for the Enphase Local integration."""

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "enphase_local"
LOGGER = logging.getLogger(__package__)

MANUFACTURER: Final = "Enphase Energy"

CONF_TOKEN: Final = "token"
CONF_ENLIGHTEN_EMAIL: Final = "enlighten_email"
CONF_ENLIGHTEN_PASSWORD: Final = "enlighten_password"
CONF_LIVE_INTERVAL: Final = "live_interval"
CONF_PRODUCTION_INTERVAL: Final = "production_interval"

DEFAULT_LIVE_INTERVAL: Final = 10
MIN_LIVE_INTERVAL: Final = 2
MAX_LIVE_INTERVAL: Final = 300
DEFAULT_PRODUCTION_INTERVAL: Final = 60
MIN_PRODUCTION_INTERVAL: Final = 30
MAX_PRODUCTION_INTERVAL: Final = 900

TOKEN_RENEW_BEFORE: Final = timedelta(days=30)
"""Renew an owner token this long before it expires: the cloud can be down for days."""
TOKEN_RENEW_RETRY: Final = timedelta(hours=6)

INVERTER_REPORT_INTERVAL_S: Final = 300
"""Microinverters report every 5 minutes (15 or 60 on weak powerline)."""
INVERTER_SILENT_INTERVALS: Final = 3

CT_MAX_POWER_W: Final = 150_000.0
"""200 A CTs on three 240 V phases: a bound no real site reaches."""
INVERTER_MAX_POWER_W: Final = 1_000.0
"""Well above any microinverter's rating (IQ8 peaks under 400 W)."""
SITE_MAX_POWER_W: Final = 200 * INVERTER_MAX_POWER_W
"""Bound on production before the inverter count is known."""
