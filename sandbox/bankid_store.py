"""Where the sandbox BankID keeps its pending requests, pushed requests and codes, in plain Python (no Odoo import).

:class:`Store` is the interface (the module implements it on top of the database); :class:`MemoryStore` keeps them in
memory, for the tests and for a simulator without a database.
"""

import json
import threading
import time
from typing import Protocol


class Store(Protocol):
    """Where the simulator keeps pending requests, pushed requests and codes.

    Values are JSON-serialisable dicts. ``ttl`` is in seconds; an expired entry reads as absent.
    ``pop_once`` must be atomic: of two concurrent calls for one key, only one gets the value.
    """

    def get(self, key: str) -> dict | None: ...

    def set(self, key: str, value: dict, ttl: float) -> None: ...

    def delete(self, key: str) -> None: ...

    def pop_once(self, key: str) -> dict | None: ...


class MemoryStore:
    """A thread-safe in-memory :class:`Store`."""

    def __init__(self, clock=time.time):
        self._clock = clock
        self._data = {}
        self._lock = threading.Lock()

    def _live(self, key):
        entry = self._data.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= self._clock():
            del self._data[key]
            return None
        return value

    def get(self, key):
        with self._lock:
            value = self._live(key)
            return json.loads(value) if value is not None else None

    def set(self, key, value, ttl):
        with self._lock:
            self._data[key] = (self._clock() + ttl, json.dumps(value))

    def delete(self, key):
        with self._lock:
            self._data.pop(key, None)

    def pop_once(self, key):
        with self._lock:
            value = self._live(key)
            self._data.pop(key, None)
            return json.loads(value) if value is not None else None
