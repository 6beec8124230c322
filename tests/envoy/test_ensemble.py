"""Battery endpoints (PROTOCOL.md section 7): tolerant parsers, whole documents kept."""

import pytest

from custom_components.enphase_local.envoy import EnvoyDataError
from custom_components.enphase_local.envoy.ensemble import (
    parse_dry_contacts,
    parse_ensemble_inventory,
    parse_ensemble_power,
    parse_ensemble_secctrl,
    parse_tariff,
)

INVENTORY = [
    {
        "type": "ENCHARGE",
        "devices": [
            {
                "part_num": "830-01760-r37",
                "serial_num": "482308001122",
                "percentFull": 54,
                "temperature": 29,
                "maxCellTemp": 31,
                "encharge_capacity": 3360,
                "led_status": 17,
                "communicating": True,
                "dc_switch_off": False,
                "sleep_enabled": False,
                "last_rpt_date": 1753732800,
                "admin_state_str": "ENCHG_STATE_READY",
                "img_pnum_running": "2.6.5973_rel/22.11",
                "reported_enc_grid_state": "grid-tied",
                "phase": "ph-a",
                "unknown_field": {"nested": True},
            }
        ],
    },
    {
        "type": "ENPOWER",
        "devices": [
            {
                "serial_num": "482309004455",
                "temperature": 79,
                "communicating": True,
                "mains_admin_state": "closed",
                "mains_oper_state": "open",
                "Enpwr_grid_mode": "multimode-offgrid",
            }
        ],
    },
    {"type": "COLLAR", "devices": []},
]
SECCTRL = {
    "agg_soc": 54,
    "Max_energy": 10080,
    "ENC_agg_soc": 54,
    "ENC_agg_soh": 100,
    "ENC_agg_avail_energy": 5443,
    "ENC_agg_backup_energy": 3024,
    "ACB_agg_soc": 0,
    "ACB_agg_energy": 0,
    "configured_backup_soc": 30,
    "adjusted_backup_soc": 30,
}
TARIFF = {
    "tariff": {
        "currency": {"code": "USD"},
        "date": "1695123456",
        "storage_settings": {
            "mode": "self-consumption",
            "operation_mode_sub_type": "",
            "reserved_soc": 30.0,
            "very_low_soc": 5,
            "charge_from_grid": False,
            "date": "1695123456",
            "opt_schedules": True,
        },
        "single_rate": {"rate": 0.0, "sell": 0.0},
    },
    "schedule": {"source": "Tariff", "reserved_soc": 30.0},
}


def test_inventory_batteries_and_controller() -> None:
    """Each IQ Battery and the controller, Fahrenheit kept as such, groups named."""
    inventory = parse_ensemble_inventory(INVENTORY)

    (battery,) = inventory.batteries
    assert (battery.serial, battery.percent_full, battery.capacity_wh) == (
        "482308001122",
        54,
        3360,
    )
    assert (battery.temperature_c, battery.dc_switch_off, battery.status) == (
        29,
        False,
        "ENCHG_STATE_READY",
    )
    (controller,) = inventory.controllers
    assert controller.temperature_f == 79
    assert controller.on_grid is False
    assert inventory.other_groups == ("COLLAR",)


def test_empty_inventory_means_no_batteries() -> None:
    """A gateway without Ensemble hardware answers []."""
    inventory = parse_ensemble_inventory([])

    assert (inventory.batteries, inventory.controllers) == ((), ())


def test_secctrl_and_status_aggregates() -> None:
    """The same aggregates from secctrl, or from status with the grid relay."""
    aggregate = parse_ensemble_secctrl(SECCTRL)
    status = parse_ensemble_secctrl(
        {"secctrl": SECCTRL, "relay": {"mains_oper_state": "closed"}},
        endpoint="/ivp/ensemble/status",
    )

    assert (aggregate.soc_percent, aggregate.max_energy_wh) == (54, 10080)
    assert (aggregate.health_percent, aggregate.reserve_percent) == (100, 30)
    assert aggregate.on_grid is None
    assert status.available_energy_wh == 5443
    assert status.on_grid is True


def test_power_key_with_a_colon() -> None:
    """/ivp/ensemble/power keys its list "devices:"; mW become W, + discharging."""
    power = parse_ensemble_power(
        {
            "devices:": [
                {
                    "serial_num": "482308001122",
                    "real_power_mw": -1234500,
                    "apparent_power_mva": 1300000,
                    "soc": 55,
                }
            ]
        }
    )

    assert power[0].power_w == -1234.5
    assert (power[0].apparent_power_va, power[0].soc_percent) == (1300.0, 55)


def test_tariff_keeps_the_whole_document_for_writes() -> None:
    """A write changes one field of the document as read, nothing else."""
    tariff = parse_tariff(TARIFF)
    written = tariff.with_storage(mode="backup")

    assert tariff.storage is not None
    assert (tariff.storage.mode, tariff.storage.reserve_percent) == (
        "self-consumption",
        30.0,
    )
    assert written["tariff"]["storage_settings"]["mode"] == "backup"
    assert written["tariff"]["storage_settings"]["opt_schedules"] is True
    assert written["schedule"] == TARIFF["schedule"]
    assert tariff.document == TARIFF


def test_dry_contacts_pair_state_and_settings_by_id() -> None:
    """Relays: state from one endpoint, the whole settings record from the other."""
    record = {
        "id": "NC1",
        "load_name": "Pool pump",
        "mode": "manual",
        "soc_low": 25,
        "soc_high": 70,
        "grid_action": "shed",
    }
    contacts = parse_dry_contacts(
        {
            "dry_contacts": [
                {"id": "NC1", "status": "closed"},
                {"id": "NO1", "status": "open"},
            ]
        },
        {"dry_contacts": [record]},
    )

    assert [(c.id, c.closed, c.load_name) for c in contacts] == [
        ("NC1", True, "Pool pump"),
        ("NO1", False, None),
    ]
    assert contacts[0].settings == record
    assert contacts[1].settings is None


@pytest.mark.parametrize(
    "payload",
    [
        {"tariff": "no"},
        {"nothing": 1},
        [1, 2],
    ],
)
def test_malformed_tariff_is_a_data_error(payload: object) -> None:
    """A document without a tariff object is refused, not half-read."""
    with pytest.raises(EnvoyDataError):
        parse_tariff(payload)


def test_malformed_inventory_is_a_data_error() -> None:
    """A battery without a serial cannot become a device."""
    with pytest.raises(EnvoyDataError):
        parse_ensemble_inventory(
            [{"type": "ENCHARGE", "devices": [{"percentFull": 3}]}]
        )
