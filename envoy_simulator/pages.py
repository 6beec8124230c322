"""HTML pages of old (firmware 3.x) gateways."""

import math

from .model import InverterTotals

_PREFIXES = ("", "k", "M")


def three_significant(value: float, unit: str) -> str:
    """Write ``value`` (W or Wh) as the old pages do: three significant digits, W/kW/MW.

    The prefix follows the rounded magnitude (999.6 W reads ``1.00 kW``);
    zero reads ``0 W``.
    """
    if value == 0:
        return f"0 {unit}"
    magnitude = abs(value)
    rounded = round(magnitude, 2 - math.floor(math.log10(magnitude)))
    prefix = 0
    while rounded >= 1000 and prefix < len(_PREFIXES) - 1:
        rounded /= 1000
        prefix += 1
    # Dividing can leave binary noise: round to three significant digits again.
    decimals = max(0, 2 - math.floor(math.log10(rounded)))
    sign = "-" if value < 0 else ""
    return f"{sign}{rounded:.{decimals}f} {_PREFIXES[prefix]}{unit}"


def production_page(totals: InverterTotals) -> str:
    """Return the /production page showing the inverter sums."""
    rows = (
        ("Currently", three_significant(totals.watts_now, "W")),
        ("Today", three_significant(totals.today_wh, "Wh")),
        ("Past Week", three_significant(totals.seven_days_wh, "Wh")),
        ("Since Installation", three_significant(totals.lifetime_wh, "Wh")),
    )
    table = "".join(
        f"<tr><td>{name}</td><td>{value}</td></tr>\n" for name, value in rows
    )
    return (
        "<!DOCTYPE html>\n<html><head><title>Envoy</title></head><body>\n"
        "<h1>System Energy Production</h1>\n<table>\n"
        f"{table}</table>\n</body></html>\n"
    )
