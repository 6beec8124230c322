"""Bad answers and odd states from the gateway: degrade per endpoint, never crash."""

import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_local import async_remove_config_entry_device
from custom_components.enphase_local.const import CONF_ENLIGHTEN_PASSWORD, DOMAIN
from custom_components.enphase_local.envoy import EnvoyInfo, MeterConfig, gateway_model
from envoy_simulator import EnvoySimulator, FaultKind

from .helpers import advance, make_entry, setup_entry, state_of

pytestmark = pytest.mark.usefixtures("daytime")


async def test_unreadable_stored_token_asks_to_sign_in(
    hass: HomeAssistant, simulator: EnvoySimulator
) -> None:
    """A stored token that is not a JWT leads to reauth, not a crash."""
    entry = make_entry(simulator, token="garbage")

    await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.SETUP_ERROR


async def test_failed_renewal_with_wrong_password_asks_to_sign_in(
    hass: HomeAssistant, cloud: EnvoySimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """An expired token and a changed Enlighten password end in reauth, logged once."""
    entry = make_entry(
        cloud,
        token=cloud.mint_token(lifetime_seconds=-5),
        enlighten=True,
        data={CONF_ENLIGHTEN_PASSWORD: "changed-since"},
    )

    await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert caplog.text.count("Could not renew gateway access") == 1
    assert "changed-since" not in caplog.text


async def test_detection_failure_retries_setup(
    hass: HomeAssistant, simulator: EnvoySimulator, config_entry: MockConfigEntry
) -> None:
    """A gateway failing while its endpoints are being discovered is retried later."""
    simulator.inject("/ivp/meters", "http_500", count=4)

    await setup_entry(hass, config_entry)

    assert config_entry.state is ConfigEntryState.SETUP_RETRY


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("not_found", "no longer offers /ivp/meters/readings"),
        ("malformed_json", "sent data that could not be used"),
    ],
)
async def test_broken_ct_endpoint_makes_only_ct_entities_unavailable(
    hass: HomeAssistant,
    *,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    kind: FaultKind,
    message: str,
) -> None:
    """A missing or garbled CT endpoint costs CT entities, logged once, nothing else."""
    inverter = simulator.profile.inverter_serial_start
    simulator.inject("/ivp/meters/readings", kind)

    await advance(hass, freezer, 330)

    assert (
        state_of(hass, f"sensor.envoy_{simulator.serial}_production_power")
        == STATE_UNAVAILABLE
    )
    assert state_of(hass, f"sensor.inverter_{inverter}") != STATE_UNAVAILABLE
    warnings = [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING and message in record.getMessage()
    ]
    assert len(warnings) == 1
    assert init_integration.state is ConfigEntryState.LOADED


@pytest.mark.usefixtures("all_entities_enabled")
@pytest.mark.parametrize("profile", ["metered_three_phase_storage"])
async def test_inverter_detail_failing_keeps_last_detail(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """device_data hanging around 23:00 keeps the last detail; power stays live."""
    inverter = simulator.profile.inverter_serial_start
    lifetime = float(state_of(hass, f"sensor.inverter_{inverter}_lifetime_energy"))
    simulator.inject("/ivp/pdm/device_data", "http_503")

    await advance(hass, freezer, 10 * 60, step=30)

    assert (
        float(state_of(hass, f"sensor.inverter_{inverter}_lifetime_energy")) == lifetime
    )
    assert state_of(hass, f"sensor.inverter_{inverter}") != STATE_UNAVAILABLE

    simulator.clear_faults()
    await advance(hass, freezer, 6 * 60, step=30)

    assert (
        float(state_of(hass, f"sensor.inverter_{inverter}_lifetime_energy")) > lifetime
    )


@pytest.mark.usefixtures("all_entities_enabled")
@pytest.mark.parametrize("profile", ["metered_three_phase_storage"])
async def test_inverter_detail_missing_at_start_appears_later(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Detail failing at start-up does not block setup; its entities come later."""
    inverter = simulator.profile.inverter_serial_start
    # Both attempts during discovery (setup reads nothing twice).
    simulator.inject("/ivp/pdm/device_data", "http_503", count=2)

    await setup_entry(hass, config_entry)

    assert config_entry.state is ConfigEntryState.LOADED
    assert state_of(hass, f"sensor.inverter_{inverter}") != STATE_UNAVAILABLE
    assert hass.states.get(f"sensor.inverter_{inverter}_lifetime_energy") is None

    await advance(hass, freezer, 70)

    assert float(state_of(hass, f"sensor.inverter_{inverter}_lifetime_energy")) > 0


async def test_other_gateway_appearing_at_the_address(
    hass: HomeAssistant,
    simulator: EnvoySimulator,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """If another gateway answers at the address, the info tier notices and says so."""
    port = simulator.port
    await simulator.stop()
    async with EnvoySimulator("total_consumption", port=port, cloud_port=None, seed=1):
        await advance(hass, freezer, 4 * 3600 + 60, step=600)

        coordinator = init_integration.runtime_data.tiers.info
        assert coordinator.last_update_success is False
        assert "A different gateway (serial 202409033310)" in str(
            coordinator.last_exception
        )


@pytest.mark.parametrize("profile", ["legacy_standard"])
async def test_device_removal_on_a_gateway_without_meters(
    hass: HomeAssistant, simulator: EnvoySimulator, init_integration: MockConfigEntry
) -> None:
    """Without CT meters, removal still knows which inverters are current."""
    device_registry = dr.async_get(hass)
    current = device_registry.async_get_device_by_identifier(
        (DOMAIN, str(simulator.profile.inverter_serial_start)),
        init_integration.entry_id,
    )
    assert current is not None

    assert (
        await async_remove_config_entry_device(hass, init_integration, current) is False
    )


@pytest.mark.parametrize(
    ("part_number", "metered", "meters", "model"),
    [
        ("800-00069-r05", None, None, "Envoy-R"),
        ("800-01135-r02", True, [], "IQ Gateway (no CTs in use)"),
        ("999-00000-r01", True, None, "Envoy Metered"),
        (None, False, [], "Envoy"),
    ],
)
def test_gateway_model_names(
    part_number: str | None,
    metered: bool | None,
    meters: list[MeterConfig] | None,
    model: str,
) -> None:
    """The gateway's model comes from its part number and metering set-up."""
    info = EnvoyInfo(
        serial="1",
        part_number=part_number,
        firmware="8.2.4345",
        firmware_version=(8, 2, 4345),
        metered=metered,
        web_tokens=True,
    )

    assert gateway_model(info, meters) == model
