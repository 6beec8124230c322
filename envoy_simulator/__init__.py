"""A fake Enphase Envoy / IQ Gateway for tests, demos and benchmarks.

EnvoySimulator plays a simulated site on one of the PROFILES (common gateways
and shapes seen on real ones, battery sites among them), with faults injected
per endpoint (FAULT_KINDS, see faults.py). Its energy counters are functions
of the clock and the seed, so a simulator started later continues them (see
model.py for the exact guarantee). envoy_simulator.replay serves captured
answers instead.
"""

from .clock import Clock, FakeClock, ShiftedClock, SystemClock
from .cloud import CloudAccount
from .faults import FAULT_KINDS, Fault, FaultKind
from .model import SiteCounters
from .profiles import PROFILES, MeterSpec, Profile
from .server import EnvoySimulator
from .stats import RequestRecord

__all__ = [
    "FAULT_KINDS",
    "PROFILES",
    "Clock",
    "CloudAccount",
    "EnvoySimulator",
    "FakeClock",
    "Fault",
    "FaultKind",
    "MeterSpec",
    "Profile",
    "RequestRecord",
    "ShiftedClock",
    "SiteCounters",
    "SystemClock",
]
