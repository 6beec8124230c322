"""A fake Enphase Envoy / IQ Gateway for tests, demos and benchmarks."""
