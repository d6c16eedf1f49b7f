"""Errors the restore test's tasks raise; Lambda reports the class name, which Retry and Catch match."""

from __future__ import annotations


class RestoreTestError(Exception):
    """Base of the restore test's errors; the state machine catches every one and cleans up."""


class InvalidRestoreInput(RestoreTestError):
    """The execution input or a task's parameters are not what the state machine sends."""


class NoBackupAvailable(RestoreTestError):
    """The source table has no AVAILABLE on-demand backup, or point-in-time recovery is off."""


class RestoreThrottled(RestoreTestError):
    """DynamoDB rejected the restore request for a limit (at most 50 concurrent restores per account)."""


class RestoreFailed(RestoreTestError):
    """The restore request was rejected, or the scratch table vanished or left CREATING in a bad state."""


class RestoreTimedOut(RestoreTestError):
    """The scratch table was not ACTIVE within the configured restore timeout."""


class TableInUse(RestoreTestError):
    """DeleteTable rejected the scratch table because it is still being created or updated; retried."""


class DeleteRejected(RestoreTestError):
    """The delete guard rejected a table that is not a tagged scratch table of this suite."""
