"""A fake Enphase Envoy / IQ Gateway for tests, demos and benchmarks."""

from .clock import Clock, FakeClock, SystemClock
from .cloud import CloudAccount
from .faults import FAULT_KINDS, Fault, FaultKind
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
    "SystemClock",
]
