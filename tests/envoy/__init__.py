"""Tests for the Envoy gateway client."""
