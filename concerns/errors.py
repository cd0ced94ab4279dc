"""Errors the domain raises, so that callers need not know the storage's own exceptions."""


class Conflict(Exception):
    """A write collided with another one (a unique key, a concurrent change); retry or re-read."""


class NotFound(Exception):
    """The thing asked for does not exist for this tenant."""
