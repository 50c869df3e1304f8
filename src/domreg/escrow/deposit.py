"""Making deposits: one snapshot read into the deposit XML (a temporary file beside the
output, never memory), RyDE processing, the record in `escrow_deposits`, and the cursors
(`escrow:<kind>:<tld>`, the day of the last watermark deposited, as a date ordinal) from
which the daily job knows what is due."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import orjson
from sqlalchemy import Connection, insert, select, update

from domreg.config import Config
from domreg.escrow import model as m
from domreg.escrow import ryde, source, writer
from domreg.store import schema as t
from domreg.store.db import Database

log = logging.getLogger("domreg.escrow")


def cursor_name(kind: str, tld: str) -> str:
    return f"escrow:{kind}:{tld}"


def keys(cfg: Config) -> ryde.Keys:
    return ryde.keyring(
        Path(cfg.escrow_dir) / "gnupg",
        cfg.escrow_agent_key,
        cfg.escrow_signing_key,
        cfg.escrow_signing_passphrase,
    )


def write_xml(db: Database, spec: m.Spec, path: Path) -> dict[str, int]:
    """The deposit XML of `spec` into `path`, read in one snapshot; returns its counts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with source.snapshot(db) as conn:
        prev = _previous_id(conn, spec) if spec.kind == m.DIFF else None
        with path.open("wb") as fh:
            return writer.write(conn, spec, fh, prev_id=prev)


def _previous_id(conn: Connection, spec: m.Spec) -> str | None:
    d = t.escrow_deposits
    return conn.execute(
        select(d.c.deposit_id)
        .where(d.c.tld == spec.tld, d.c.watermark < spec.watermark)
        .order_by(d.c.watermark.desc(), d.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class Result:
    spec: m.Spec
    made: ryde.Made


def make(
    db: Database, cfg: Config, spec: m.Spec, now: datetime, key_ring: ryde.Keys | None = None
) -> Result:
    """Make, encrypt, sign and record one deposit; `now` is when it is made."""
    if spec.watermark > now:
        raise m.DepositError(f"the watermark {m.xml_time(spec.watermark)} is in the future")
    key_ring = key_ring or keys(cfg)
    out = Path(cfg.escrow_dir)
    xml = out / (spec.name("xml") + ".tmp")
    try:
        counts = write_xml(db, spec, xml)
        made = ryde.package(key_ring, spec, xml, counts, out, now)
    finally:
        xml.unlink(missing_ok=True)
        ryde.stop_agent(key_ring.home)  # the agent GnuPG started for signing
    with db.write() as conn:
        conn.execute(
            insert(t.escrow_deposits).values(
                deposit_id=spec.deposit_id,
                tld=spec.tld,
                kind=m.DEPOSIT_TYPE[spec.kind] if spec.kind != m.THIN else "BRDA",
                watermark=spec.watermark,
                resend=spec.resend,
                path=str(made.ryde),
                size=made.size,
                counts=orjson.dumps(counts).decode(),
                created_at=now,
            )
        )
        advance(conn, cursor_name(spec.kind, spec.tld), spec.day, now)
    log.info("escrow deposit %s: %d bytes, %s", made.ryde.name, made.size, counts)
    return Result(spec, made)


def advance(conn: Connection, name: str, day: date, now: datetime) -> None:
    """Move cursor `name` to `day` (never back)."""
    c = t.cursors
    position = conn.execute(select(c.c.position).where(c.c.name == name)).scalar_one_or_none()
    if position is None:
        conn.execute(insert(c).values(name=name, position=day.toordinal(), updated_at=now))
    elif position < day.toordinal():
        conn.execute(
            update(c).where(c.c.name == name).values(position=day.toordinal(), updated_at=now)
        )


def last_day(conn: Connection, kind: str, tld: str) -> date | None:
    position = conn.execute(
        select(t.cursors.c.position).where(t.cursors.c.name == cursor_name(kind, tld))
    ).scalar_one_or_none()
    return None if position is None else date.fromordinal(int(position))


@dataclass(frozen=True)
class Status:
    tld: str
    kind: str
    deposit_id: str
    watermark: datetime
    path: str
    size: int
    counts: dict[str, int]
    created_at: datetime


def status(db: Database) -> list[Status]:
    """The last deposit of each TLD and kind."""
    d = t.escrow_deposits
    with db.read() as conn:
        rows = conn.execute(select(d).order_by(d.c.tld, d.c.kind, d.c.watermark, d.c.id)).all()
    last = {(r.tld, r.kind): r for r in rows}
    return [
        Status(
            r.tld,
            r.kind,
            r.deposit_id,
            r.watermark,
            r.path,
            r.size,
            orjson.loads(r.counts),
            r.created_at,
        )
        for r in last.values()
    ]
