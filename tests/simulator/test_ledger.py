"""The integrator behind every energy counter."""

from collections.abc import Sequence

import pytest

from envoy_simulator import EnvoySimulator, FakeClock
from envoy_simulator.ledger import COARSE_STEP_S, HISTORY_S, STEP_S, Ledger


class RampSampler:
    """Quantity 0 is a constant 100 W; quantity 1 ramps 1 W per second of the day."""

    width = 2

    def __init__(self) -> None:
        """Count resets."""
        self.resets = 0

    def reset(self) -> None:
        """Record a reset."""
        self.resets += 1

    def sample(self, t: float, dt: float) -> list[float]:
        """Return both powers at ``t``."""
        del dt
        return [100.0, t % 86400]

    def restore(self, powers: Sequence[float], dt: float) -> None:
        """Keep no state."""
        del powers, dt


class TankSampler:
    """Quantity 0 fills a tank at 100 W, 300 W after ``switch``; quantity 1 is its level."""

    width = 2

    def __init__(self, switch: float) -> None:
        """Start empty."""
        self.switch = switch
        self.level = 0.0

    def reset(self) -> None:
        """Empty the tank."""
        self.level = 0.0

    def sample(self, t: float, dt: float) -> list[float]:
        """Return the inflow and the level at ``t``, then fill for ``dt``."""
        inflow = 300.0 if t > self.switch else 100.0
        level = self.level
        self.level = level + inflow * dt / 3600
        return [inflow, level]

    def restore(self, powers: Sequence[float], dt: float) -> None:
        """Put the level where sampling ``powers`` left it."""
        self.level = powers[1] + powers[0] * dt / 3600


def test_constant_power_integrates_exactly_everywhere() -> None:
    sampler = RampSampler()
    start = 1_000_000_005.0
    ledger = Ledger(sampler, start)
    origin = ledger.origin
    assert origin == 1_000_000_000.0
    assert ledger.coarse_start == origin - (HISTORY_S // COARSE_STEP_S) * COARSE_STEP_S
    for t in (
        origin - 5 * 86400 + 17,
        origin - 1,
        origin,
        origin + 3.5,
        origin + 86400,
    ):
        assert ledger.value(0, t) == pytest.approx(100.0 * (t - origin))
        assert ledger.power(0, t) == pytest.approx(100.0)
    # Twelve days later the oldest fine detail is trimmed; checkpoints still answer.
    ledger.value(0, origin + 12 * 86400)
    assert ledger.value(0, origin + 3600 * 5 + 1800) == pytest.approx(
        100.0 * (3600 * 5 + 1800)
    )
    assert ledger.power(0, origin + 3600 * 5 + 1800) == pytest.approx(100.0)
    assert sampler.resets == 1


def test_piecewise_linear_power_is_integrated_exactly() -> None:
    ledger = Ledger(RampSampler(), 1_000_000_000.0)
    origin = ledger.origin
    t0 = origin + 1000.0
    t1 = origin + 1234.5
    # The ramp is linear on the grid, so the trapezoid sum is exact.
    day_start = origin - origin % 86400
    expected = ((t1 - day_start) ** 2 - (t0 - day_start) ** 2) / 2
    assert ledger.value(1, t1) - ledger.value(1, t0) == pytest.approx(expected)
    assert ledger.power(1, origin + 3 * STEP_S + 4) == pytest.approx(
        (origin + 34) % 86400
    )


def test_going_back_before_the_history_rebuilds() -> None:
    sampler = RampSampler()
    ledger = Ledger(sampler, 1_000_000_000.0)
    early = 1_000_000_000.0 - 40 * 86400
    assert ledger.value(0, early + 60) == pytest.approx(
        100.0 * (early + 60 - ledger.origin)
    )
    assert ledger.rebuilds == 1
    assert sampler.resets == 2


async def test_simulator_survives_a_clock_set_backwards() -> None:
    clock = FakeClock(1753714800.0)
    sim = EnvoySimulator("metered_three_phase_storage", clock=clock)
    now_readings = sim.builder.meter_readings(sim.now())
    clock.set(1753714800.0 - 60 * 86400)
    past = sim.builder.meter_readings(sim.now())
    assert past[0]["actEnergyDlvd"] < now_readings[0]["actEnergyDlvd"]
    assert past[0]["actEnergyDlvd"] > 0
    clock.advance(600)
    later = sim.builder.meter_readings(sim.now())
    assert later[0]["actEnergyDlvd"] >= past[0]["actEnergyDlvd"]


@pytest.mark.parametrize("ahead_s", [1000.0, 12 * 86400.0])
def test_rewind_resamples_after_a_change_and_keeps_the_past(ahead_s: float) -> None:
    start = 1_000_000_000.0
    never = float("inf")
    sampler = TankSampler(never)
    ledger = Ledger(sampler, start)
    switch = start + 500.0
    before = [ledger.value(0, t) for t in (start + 100, switch - 3, switch)]
    # Read far ahead (past the trimming of fine detail in the long case) first.
    ledger.value(0, start + ahead_s)
    sampler.switch = switch
    ledger.rewind(switch)
    assert [ledger.value(0, t) for t in (start + 100, switch - 3, switch)] == before
    # The new inflow counts from the grid point after the change.
    assert ledger.value(0, switch + 3600) - ledger.value(0, switch) == pytest.approx(
        300.0 * 3600 - 100.0 * STEP_S, abs=1e-6
    )
    # A ledger that knew about the change from the start reads the same.
    fresh = Ledger(TankSampler(switch), start)
    for t in (switch + 5, switch + 3600, start + ahead_s):
        assert ledger.value(0, t) == fresh.value(0, t)
        assert ledger.power(1, t) == fresh.power(1, t)
    assert ledger.rebuilds == (1 if ahead_s > 10 * 86400 else 0)
