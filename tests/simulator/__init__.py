"""Tests for the Envoy simulator."""
