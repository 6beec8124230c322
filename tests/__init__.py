"""Tests for Enphase Local."""
