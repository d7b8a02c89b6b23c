"""The project's exceptions: each says what was wrong, where, and how to fix it."""

from __future__ import annotations


class SmnpcError(Exception):
    """Base class: a user-facing error with a location and a hint.

    >>> str(SmnpcError("bad value", where="evidence/x.ttl:3", hint="use a number"))
    'evidence/x.ttl:3: bad value (use a number)'
    """

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} ({self.hint})" if self.hint else text


class ParseError(SmnpcError):
    """A file could not be parsed (Turtle, JSON, SPARQL)."""


class ValidationError(SmnpcError):
    """Data parsed but broke a rule (SHACL shape, patient schema, consistency)."""

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None,
                 details: list[str] | None = None) -> None:
        self.details = details or []
        super().__init__(message, where=where, hint=hint)


class QueryError(SmnpcError):
    """A SPARQL query was malformed or failed."""


class SourceError(SmnpcError):
    """A quote could not be found in the source text."""


class StoreError(SmnpcError):
    """The store (embedded or remote) could not answer."""


class DistError(StoreError):
    """The built KG on disk is missing, incomplete or does not match its manifest."""
