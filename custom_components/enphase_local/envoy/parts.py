"""What Enphase part numbers mean: gateway models by /info ``device/pn``."""

from collections.abc import Sequence

from .models import EnvoyInfo, MeterConfig

_MODELS_BY_PART = (
    ("800-00069", "Envoy-R"),
    ("800-00551", "Envoy-S Standard"),
    ("800-00553", "Envoy-S Standard"),
    ("800-00554", "Envoy-S Standard"),
    ("800-00654", "Envoy-S Metered"),
    ("800-00655", "Envoy-S Metered"),
    ("800-00656", "Envoy-S Metered"),
    ("800-01", "IQ Gateway"),
)


def gateway_model(info: EnvoyInfo, meters: Sequence[MeterConfig] | None) -> str:
    """Describe the gateway from its part number and metering set-up (if known)."""
    part = info.part_number or ""
    model = next(
        (name for prefix, name in _MODELS_BY_PART if part.startswith(prefix)), None
    )
    if model is None:
        model = "Envoy Metered" if info.metered else "Envoy"
    if meters is None:
        return model
    roles = [meter.measurement_type for meter in meters if meter.enabled]
    if roles:
        return f"{model} ({', '.join(roles)} CTs)"
    if info.metered:
        return f"{model} (no CTs in use)"
    return model
