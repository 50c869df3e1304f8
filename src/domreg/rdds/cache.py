"""Answers of RDAP lookups and WHOIS queries kept in memory while the registration data has
not changed.

A lookup reads a dozen rows and builds a few kilobytes of JSON or text; serving the same
bytes again is a hundred times cheaper. An entry is served only while (1) the version token
of the registration data (`rdds.query.version`, read before the data) still covers the one
under which the entry was built (`Version.covers`: the same generation, and none of the
transactions then in progress has ended since): any commit that changes registration data
empties the cache, so what EPP changed is in the very next answer; and (2) the answer's own
time limit has not passed (a grace period starting or ending changes a domain's statuses
without a write). The "last update of RDAP database" time (WHOIS: "Last update of WHOIS
database") is replaced by the current one in every answer served from the cache.
Each worker process has its own cache, bounded to `max_entries`; `hits`, `misses` and
`flushes` (the generation changed) count what it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domreg.rdds.query import NOTHING_RUNNING, Version


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    stamp: bytes  # the last-update time as it is in `body`
    etag: bytes
    valid_until: datetime | None
    running: frozenset[int] = NOTHING_RUNNING  # `Version.running` when it was built


class AnswerCache:
    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self.generation: object = None
        self.entries: dict[Any, Entry] = {}
        self.hits = 0
        self.misses = 0
        self.flushes = 0

    def get(self, token: Version, key: Any, now: datetime) -> Entry | None:
        entry = self.find(token, key, now)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def find(self, token: Version, key: Any, now: datetime) -> Entry | None:
        """`get` without counting a hit or a miss (the caller counts: RDAP's fast path,
        which hands a miss to the full path, where `get` counts it)."""
        if token.generation != self.generation:
            if self.entries:
                self.flushes += 1
            self.entries.clear()
            self.generation = token.generation
            return None
        entry = self.entries.get(key)
        if (
            entry is None
            or (entry.valid_until is not None and now >= entry.valid_until)
            or (entry.running and not entry.running <= token.running)
        ):
            return None
        return entry

    def put(self, token: Version, key: Any, entry: Entry) -> None:
        if token.generation != self.generation:
            return
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        if token.running:
            entry = Entry(entry.body, entry.stamp, entry.etag, entry.valid_until, token.running)
        self.entries[key] = entry
