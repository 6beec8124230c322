"""The Enphase Local integration: an Enphase Envoy / IQ Gateway over its local API."""
