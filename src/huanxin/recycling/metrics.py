"""Metrics (filled below)."""
