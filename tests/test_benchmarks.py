"""Smoke tests for benchmarks.cpu: its site choice, its tables, and one short job."""

import argparse
from dataclasses import replace
import multiprocessing

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from benchmarks import cpu
from envoy_simulator import PROFILES


def _args(*argv: str) -> argparse.Namespace:
    return cpu.build_parser().parse_args(list(argv))


def test_default_run_covers_the_profiles_and_the_site_sizes() -> None:
    """No options: the default profiles (batteries too), then large_site at four sizes."""
    sites = cpu.choose_sites(_args())
    profiles = len(cpu.DEFAULT_PROFILES)

    assert [site.label for site in sites[:profiles]] == list(cpu.DEFAULT_PROFILES)
    assert {"metered_split", "iq_battery_no_ct"} <= set(cpu.DEFAULT_PROFILES)
    assert [site.inverters for site in sites[profiles:]] == [10, 30, 120, 300]
    assert all(site.profile.firmware == "8.3.5167" for site in sites[profiles:])


def test_quick_and_explicit_choices() -> None:
    """--quick measures one profile; --profile and --inverters choose sites."""
    assert [site.label for site in cpu.choose_sites(_args("--quick"))] == [
        cpu.QUICK_PROFILE
    ]
    chosen = cpu.choose_sites(_args("--profile", "legacy_standard", "--inverters", "7"))

    assert [(site.label, site.inverters) for site in chosen] == [
        ("legacy_standard", 10),
        ("large_site x7", 7),
    ]


def test_each_site_runs_both_integrations_and_one_baseline() -> None:
    """Ours and the incumbent share a seed per site; one harness baseline."""
    sites = cpu.choose_sites(_args("--profile", "metered_split", "--inverters", "30"))
    jobs = cpu.build_jobs(sites, minutes=5, seed=1)

    assert [(job.site.label, job.integration, job.seed) for job in jobs] == [
        ("metered_split", "ours", 1),
        ("metered_split", "incumbent", 1),
        ("large_site x30", "ours", 2),
        ("large_site x30", "incumbent", 2),
        ("metered_split", "baseline", 1),
    ]


def test_entries_hold_what_the_config_flows_store() -> None:
    """Ours: host (+ token); the incumbent: its manual-token or installer entry."""
    site = cpu.Site("metered_split", PROFILES["metered_split"])
    token = cpu.GatewayInfo("127.0.0.1:1", "1234", "7.6.175", "jwt")
    legacy = replace(token, firmware="5.0.62", token=None)

    def data(integration: cpu.Integration, info: cpu.GatewayInfo) -> dict[str, object]:
        return dict(cpu._entry(cpu.Job(site, integration, 1, 1), info).data)

    assert data("ours", token) == {"host": "127.0.0.1:1", "token": "jwt"}
    assert data("ours", legacy) == {"host": "127.0.0.1:1"}
    assert data("incumbent", token) == {
        "name": "Envoy 1234",
        "host": "127.0.0.1:1",
        "token": "jwt",
        "use_manual_token": True,
    }
    assert data("incumbent", legacy)["username"] == "installer"


def _result(
    integration: cpu.Integration, cpu_s: float, **values: object
) -> cpu.JobResult:
    site = cpu.Site("metered_split", PROFILES["metered_split"])
    result = cpu.JobResult(job=cpu.Job(site, integration, 10, 1), cpu_s=cpu_s)
    for name, value in values.items():
        setattr(result, name, value)
    return result


def test_report_prints_ratios_with_the_baseline_subtracted() -> None:
    """CPU per minute is net of the baseline; ratios are ours / incumbent."""
    results = [
        _result("ours", 2.1, changed=600, requests=70, grid_changes=[0.0, 10.0, 20.0]),
        _result("incumbent", 1.1, changed=100, reported=300, requests=40),
        _result("baseline", 0.1),
    ]

    text = cpu.report(results, _args("--quick"), minutes=10, wall_s=1.0)

    assert (
        "| metered_split | 24 | ours | 0 | 0.2000 | 0.2000 | 60.0 | 0% | 420 |" in text
    )
    assert (
        "| metered_split | 24 | incumbent | 0 | 0.1000 | 0.1000 | 40.0 | 75% |" in text
    )
    assert "| metered_split | 2.00 | 2.00 | 1.50 | 0.00 | 1.75 |" in text


async def test_one_simulated_minute_of_ours(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, socket_enabled: None
) -> None:
    """A one-minute job sets ours up, polls the gateway and counts its writes."""
    site = cpu.Site("metered_split", PROFILES["metered_split"])
    job = cpu.Job(site, cpu.OURS, minutes=1, seed=1)
    start = cpu._start_time(site.profile)
    freezer.move_to(start)
    gateway = cpu.Gateway(
        multiprocessing.get_context("spawn"), site.profile, 1, start.timestamp()
    )
    try:
        result = await cpu._measure(job, gateway, hass, freezer)
    finally:
        gateway.close()

    assert result.error is None
    assert result.numeric_states > 0
    assert result.requests >= 6
    assert result.setup_requests > 0
    assert result.writes > 0
    assert result.grid_interval_s == pytest.approx(10.0)
