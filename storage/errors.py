"""What a store's callers may catch, whatever the store (each store maps its own errors here)."""

from __future__ import annotations


class QueueFull(Exception):
    """The write queue cannot take this request now; the client should retry later."""


class StorageUnavailable(Exception):
    """The store cannot serve now (disk full, read-only or invalidated file, ...): for a write,
    nothing of the request was stored; a reader may raise it too. Clients should retry later."""


class StoreOpenError(StorageUnavailable):
    """The store cannot be opened: its file is locked by another process, unreadable, or not a
    database of this store's kind. str() says which, in one line; at startup the user's to fix."""


class StoreLocked(StoreOpenError):
    """Another process (a running server) holds the store's file."""


class WriterStopped(Exception):
    """The writer is shutting down and takes no new requests."""


class Conflict(Exception):
    """A write would break a rule of the catalog (a slug taken, a project deleted while workflows
    belong to it); nothing was changed, and the message is meant for the client."""
