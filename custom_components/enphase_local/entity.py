"""Base entity and device information for Enphase Local."""

from typing import Any, override

from homeassistant.const import CONF_HOST
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, MANUFACTURER
from .coordinator import (
    EnphaseLocalConfigEntry,
    EnphaseLocalCoordinator,
    InvertersCoordinator,
    MetersCoordinator,
)
from .envoy import EnvoyInfo, Inverter, MeasurementType, MeterConfig

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

CT_ROLE_TRANSLATION_KEYS = {
    MeasurementType.PRODUCTION: "ct_production",
    MeasurementType.NET_CONSUMPTION: "ct_net_consumption",
    MeasurementType.TOTAL_CONSUMPTION: "ct_total_consumption",
    MeasurementType.STORAGE: "ct_storage",
    MeasurementType.BACKFEED: "ct_backfeed",
    MeasurementType.LOAD: "ct_load",
    MeasurementType.EVSE: "ct_evse",
    MeasurementType.PV3P: "ct_pv3p",
}


def gateway_model(info: EnvoyInfo, meters: list[MeterConfig] | None) -> str:
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


def gateway_device_info(entry: EnphaseLocalConfigEntry) -> dict[str, Any]:
    """Return the gateway's device registry fields."""
    runtime = entry.runtime_data
    info = runtime.info
    meters = list(runtime.capabilities.ct_meters)
    scheme = (runtime.envoy.base_url or "").split(":", 1)[0] or "https"
    return {
        "identifiers": {(DOMAIN, info.serial)},
        "manufacturer": MANUFACTURER,
        "model": gateway_model(info, meters),
        "model_id": info.part_number,
        "name": f"Envoy {info.serial}",
        "serial_number": info.serial,
        "sw_version": info.firmware,
        "configuration_url": f"{scheme}://{entry.data[CONF_HOST]}/",
    }


def meter_identifier(gateway_serial: str, meter: MeterConfig) -> str:
    """Return the device identifier of a CT meter."""
    return f"{gateway_serial}_ct_{meter.eid}"


def meter_device_info(
    gateway_serial: str, gateway_device_id: str, meter: MeterConfig
) -> DeviceInfo:
    """Return a CT meter's device, named by its role."""
    translation_key = CT_ROLE_TRANSLATION_KEYS.get(meter.measurement_type)  # type: ignore[call-overload]
    return DeviceInfo(
        identifiers={(DOMAIN, meter_identifier(gateway_serial, meter))},
        manufacturer=MANUFACTURER,
        model=f"CT ({meter.measurement_type}, {meter.phase_count} phase)",
        name=None if translation_key else f"{meter.measurement_type} CT",
        translation_key=translation_key,
        via_device_id=gateway_device_id,
    )


def inverter_device_info(gateway_device_id: str, inverter: Inverter) -> DeviceInfo:
    """Return a microinverter's device."""
    return DeviceInfo(
        identifiers={(DOMAIN, inverter.serial)},
        manufacturer=MANUFACTURER,
        model="AC battery" if inverter.dev_type == 11 else "Microinverter",
        name=f"Inverter {inverter.serial}",
        serial_number=inverter.serial,
        via_device_id=gateway_device_id,
    )


class EnphaseLocalEntity[CoordinatorT: EnphaseLocalCoordinator[Any]](
    CoordinatorEntity[CoordinatorT]
):
    """An entity of one gateway, on one polling tier."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: CoordinatorT,
        description: EntityDescription,
        *,
        unique_id: str,
        device_info: DeviceInfo | None = None,
    ) -> None:
        """Attach the entity to its tier and device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = unique_id
        serial = coordinator.config_entry.runtime_data.info.serial
        self._attr_device_info = device_info or DeviceInfo(
            identifiers={(DOMAIN, serial)}
        )

    @property
    @override
    def available(self) -> bool:
        """Return False until the tier has data (a tier started after setup)."""
        data: object = self.coordinator.data
        return super().available and data is not None


class MeterEntity(EnphaseLocalEntity[MetersCoordinator]):
    """An entity of one CT meter's configuration (status, flags)."""

    def __init__(
        self,
        coordinator: MetersCoordinator,
        description: EntityDescription,
        meter: MeterConfig,
    ) -> None:
        """Bind to a meter by its eid."""
        serial = coordinator.runtime.info.serial
        super().__init__(
            coordinator,
            description,
            unique_id=f"{serial}_ct_{meter.eid}_{description.key}",
            device_info=meter_device_info(
                serial, coordinator.runtime.gateway_device_id, meter
            ),
        )
        self._eid = meter.eid

    @property
    def meter(self) -> MeterConfig:
        """Return the meter's current configuration."""
        return self.coordinator.data[self._eid]

    @property
    @override
    def available(self) -> bool:
        """Return False once the meter is gone from the configuration."""
        return super().available and self._eid in self.coordinator.data


class InverterEntity(EnphaseLocalEntity[InvertersCoordinator]):
    """An entity of one microinverter."""

    def __init__(
        self,
        coordinator: InvertersCoordinator,
        description: EntityDescription,
        inverter: Inverter,
    ) -> None:
        """Bind to an inverter by its serial."""
        super().__init__(
            coordinator,
            description,
            unique_id=f"{inverter.serial}_{description.key}",
            device_info=inverter_device_info(
                coordinator.runtime.gateway_device_id, inverter
            ),
        )
        self._serial = inverter.serial

    @property
    def inverter(self) -> Inverter:
        """Return the inverter's latest data."""
        return self.coordinator.data.inverters[self._serial]

    @property
    @override
    def available(self) -> bool:
        """Return False while the gateway does not list this inverter."""
        return super().available and self._serial in self.coordinator.data.inverters
