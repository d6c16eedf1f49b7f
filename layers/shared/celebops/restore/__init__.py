"""Restore test (Step Functions tasks), scratch-table cleanup and sweep, and the daily backup guard."""
