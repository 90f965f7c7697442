"""Fixtures for the project's own Discord API server (filled in by the notifications work)."""
