"""Answers of RDAP lookups and WHOIS queries kept in memory while the database has not changed.

A lookup reads a dozen rows and builds a few kilobytes of JSON or text; serving the same
bytes again is a hundred times cheaper. An entry is served only while (1) the database's version token
(`rdds.query.version`, read at the start of the request's transaction) equals the one under
which the entry was built: any commit anywhere empties the cache, so what EPP changed is in
the very next answer; and (2) the answer's own time limit has not passed (a grace period
starting or ending changes a domain's statuses without a write). The "last update of RDAP
database" time (WHOIS: "Last update of WHOIS database") is replaced by the current one in
every answer served from the cache.
Each worker process has its own cache, bounded to `max_entries`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    stamp: bytes  # the last-update time as it is in `body`
    etag: bytes
    valid_until: datetime | None


class AnswerCache:
    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self.token: object = None
        self.entries: dict[Any, Entry] = {}
        self.hits = 0
        self.misses = 0

    def get(self, token: object, key: Any, now: datetime) -> Entry | None:
        if token != self.token:
            self.entries.clear()
            self.token = token
            return None
        entry = self.entries.get(key)
        if entry is None or (entry.valid_until is not None and now >= entry.valid_until):
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def put(self, token: object, key: Any, entry: Entry) -> None:
        if token != self.token:
            return
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[key] = entry
