"""Shared code of celebrity-database-ops, shipped to every function in the shared Lambda layer."""
