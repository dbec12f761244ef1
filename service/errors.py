"""Errors of the service layer that are shown to people, not tracebacks."""

from __future__ import annotations


class UsageError(Exception):
    """A command or request carries input that cannot be used; the message says which."""
