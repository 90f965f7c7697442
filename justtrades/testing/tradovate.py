"""Fixtures for the project's own Tradovate simulator (filled in by the brokers work)."""
