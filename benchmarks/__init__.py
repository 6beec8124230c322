"""Benchmarks for Enphase Local: gateway load and client speed against the simulator."""
