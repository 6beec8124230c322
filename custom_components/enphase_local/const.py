"""Constants for the Enphase Local integration."""

import logging
from typing import Final

DOMAIN: Final = "enphase_local"
LOGGER = logging.getLogger(__package__)
