"""Loading a deposit into an empty database (`domreg escrow restore`).

The whole load is one transaction: it commits only if every object was inserted and the
header's counts match what was read, so a failed restore leaves the database empty. Objects
keep their ROIDs, handles, names, dates, statuses, links and DS data; each gets a history row
("escrow:restore") holding its snapshot, as every change must. What a deposit does not carry
is rebuilt or left unset, and said so here:

- authInfo (RFC 9022 carries none): restored domains and contacts have none; their sponsors
  set new ones.
- registrar credentials, balances and prices: each restored registrar gets a new random EPP
  password (returned, for the operator to hand over); balances start at zero; the TLD gets
  domreg's default policy and prices.
- a registrar's abuse contact (email and phone, which RDAP and WHOIS publish): RFC 9022's
  registrar object has no place for it; the operator sets it again (`domreg registrar rdds
  CLID --abuse-email ... --abuse-phone ...`). The rest of what RDAP and WHOIS publish of a
  registrar (web site, WHOIS server, address, phone, fax, email) is in the deposit.
- grace periods: rebuilt from `<rdeDomain:rgpStatus>` with ends computed from the TLD policy
  and the domain's dates (add: creation + add grace; autoRenew: expiry - 1 year + autorenew
  grace; renew, redemption, pendingRestore, pendingDelete: last update + their length;
  transfer: transfer date + transfer grace). Refunds of grace deletes find no ledger charge.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

import orjson
from sqlalchemy import Connection, DateTime, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from domreg.dns import delegation
from domreg.escrow import model as m
from domreg.escrow import parse, reader
from domreg.flows import lifecycle, registry
from domreg.flows.session import hash_password
from domreg.model import statuses as st
from domreg.model.periods import add_months
from domreg.store import schema as t
from domreg.store.db import Database

#: Statuses derived from the data when shown (RFC 5731-5733); never stored.
COMPUTED = frozenset({st.OK, st.INACTIVE, st.LINKED})
#: The grace period kind of each `<rdeDomain:rgpStatus>` value.
_GRACE_OF_RGP = {status: kind for kind, status in lifecycle.RGP_STATUS.items()}
#: Rows per executemany (SQLite) or COPY (PostgreSQL).
BATCH = 5000
COMMAND = "escrow:restore"
#: A password hash no password matches (argon2 hashes start with "$argon2").
UNUSABLE = "!"


@dataclass
class Restored:
    tld: str = ""
    deposit_id: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)  # clid -> new EPP password


class _Batches:
    """Rows gathered per table and inserted `BATCH` at a time, in foreign-key order.

    On PostgreSQL each batch is one `COPY ... FROM STDIN` (psycopg's `Cursor.copy`): the rows
    stream to the server in one message flow instead of one round trip and one statement
    execution per row. On SQLite, whose inserts are local calls, it is the driver's
    `executemany` with times formatted as SQLAlchemy stores them (only in the DateTime
    columns)."""

    ORDER = (
        "registrars",
        "registrar_tlds",
        "contacts",
        "contact_postal",
        "hosts",
        "host_addresses",
        "domains",
        "domain_contacts",
        "domain_hosts",
        "domain_ds",
        "grace_periods",
        "statuses",
        "history",
    )

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in self.ORDER}
        self.cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def add(self, table: str, row: dict[str, Any]) -> None:
        rows = self.rows[table]
        rows.append(row)
        if len(rows) >= BATCH:
            self.flush(upto=table)

    def flush(self, upto: str | None = None) -> None:
        for name in self.ORDER:  # parents before children
            rows = self.rows[name]
            if rows:
                self._insert(name, rows)
                self.rows[name] = []
            if name == upto:
                break

    def close(self) -> None:
        self.cursor.close()

    def _insert(self, name: str, rows: list[dict[str, Any]]) -> None:
        """The rows are plain values already: they go to the driver as they are
        (SQLAlchemy's per-row parameter processing would cost more than the insert)."""
        columns = list(rows[0])
        if not self.sqlite:
            with self.cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write(tuple(row.values()))
            return
        table = t.metadata.tables[name]
        times = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, DateTime)]
        values: list[Any] = []
        for row in rows:
            value = list(row.values())
            for i in times:  # SQLAlchemy's SQLite DateTime storage format
                v = value[i]
                if v is not None:
                    value[i] = v.isoformat(" ", "microseconds")
            values.append(value)
        sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        self.cursor.executemany(sql, values)


def _defer_checks(conn: Connection, tables: tuple[str, ...]) -> list[str]:
    """PostgreSQL: drop the foreign keys and non-unique indexes of `tables` (empty, in this
    transaction) and return the statements that put them back. Built once over the loaded
    rows, an index costs a fraction of its row-by-row upkeep, and a foreign key is checked by
    one join instead of a lookup per row. The definitions come from the catalog, so they are
    put back as the migrations made them."""
    names = list(tables)
    fks = conn.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(:t) "
            "ORDER BY conrelid::regclass::text, conname"
        ),
        {"t": names},
    ).all()
    indexes = conn.execute(
        text(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid::regclass::text = ANY(:t) AND NOT indisunique AND NOT indisprimary "
            "ORDER BY 1"
        ),
        {"t": names},
    ).all()
    for table, name, _ in fks:
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition in fks
    ]


def _empty(conn: Connection) -> bool:
    for table in (t.tlds, t.registrars, t.domains, t.hosts, t.contacts):
        if conn.execute(select(func.count()).select_from(table)).scalar_one():
            return False
    return True


class Loader:
    """Inserts the objects of one deposit, resolving handles and names to the new row ids."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.out = _Batches(conn)
        self.registrar_ids: dict[str, int] = {}
        self.contact_ids: dict[str, int] = {}
        self.host_ids: dict[str, int] = {}
        # Addresses of the hosts that have some (subordinate ones): the glue of the
        # delegation text each domain is inserted with (`dns/delegation.py`).
        self.host_addresses: dict[str, list[tuple[str, str]]] = {}
        self.next_id = {"contacts": 1, "hosts": 1, "domains": 1}
        self.tld: Any = None
        # History rows of restored objects record their state as of the deposit's watermark.
        self.as_of: datetime | None = None
        self.serial = 0
        self.result = Restored()
        # PostgreSQL: statements that put back the checks and indexes dropped for the load.
        self.deferred: list[str] = []
        # The registrars' new password hashes (argon2, a fixed ~0.3 s of CPU each) are
        # computed on a thread while the objects load; `finish` stores them.
        self._hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="restore-argon2")
        self._hashes: dict[int, Future[str]] = {}

    def close(self) -> None:
        self._hashing.shutdown(cancel_futures=True)

    def _svtrid(self) -> str:
        self.serial += 1
        return f"RESTORE-{self.result.deposit_id}-{self.serial}"

    def _history(self, kind: str, roid: str, name: str, snapshot: dict[str, Any]) -> None:
        self.out.add(
            "history",
            {
                "svtrid": self._svtrid(),
                "cltrid": None,
                "registrar_id": None,
                "object_type": kind,
                "roid": roid,
                "object_name": name,
                "command": COMMAND,
                "at": self.as_of or self.now,
                "snapshot": orjson.dumps(snapshot, default=str).decode(),
            },
        )

    def _statuses(self, roid: str, statuses: list[tuple[str, str | None, str | None]]) -> None:
        for s, lang, message in statuses:
            if s not in COMPUTED:
                self.out.add(
                    "statuses", {"roid": roid, "status": s, "lang": lang, "message": message}
                )

    def _rid(self, clid: str | None) -> int | None:
        if clid is None:
            return None
        try:
            return self.registrar_ids[clid]
        except KeyError:
            raise m.DepositError(
                f"the deposit refers to registrar {clid!r}, which it does not hold"
            ) from None

    def _id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def registrar(self, obj: dict[str, Any]) -> None:
        password = "".join(
            secrets.choice("abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789")
            for _ in range(16)
        )
        row = self.conn.execute(
            insert(t.registrars)
            .values(
                clid=obj["clid"],
                name=obj["name"],
                iana_id=obj["iana_id"],
                email=None if (obj["email"] or "").endswith("@registrar.invalid") else obj["email"],
                password_hash=UNUSABLE,  # replaced by `finish`, in this transaction
                status="ok" if obj["status"] == "ok" else obj["status"],
                created_at=obj["created_at"],
                updated_at=obj["updated_at"],
                password_changed_at=self.now,
                url=obj["url"],
                whois_server=obj["whois_server"],
                phone=obj["phone"],
                fax=obj["fax"],
                street=orjson.dumps(obj["street"]).decode() if obj["street"] else None,
                city=obj["city"],
                sp=obj["sp"],
                pc=obj["pc"],
                cc=obj["cc"],
            )
            .returning(t.registrars.c.id)
        ).scalar_one()
        self.registrar_ids[obj["clid"]] = row
        self._hashes[row] = self._hashing.submit(hash_password, password)
        self.conn.execute(insert(t.registrar_tlds).values(registrar_id=row, tld_id=self.tld.id))
        self.result.passwords[obj["clid"]] = password

    def contact(self, obj: dict[str, Any]) -> None:
        cid = self._id("contacts")
        self.contact_ids[obj["id"]] = cid
        trn = obj.get("trn") or {}
        self.out.add(
            "contacts",
            {
                "id": cid,
                "roid": obj["roid"],
                "handle": obj["id"],
                "registrar_id": self._rid(obj["sponsor"]),
                "creator_id": self._rid(obj["creator"]),
                "created_at": obj["created_at"],
                "updater_id": self._rid(obj["updater"]),
                "updated_at": obj["updated_at"],
                "transferred_at": obj["transferred_at"],
                "voice": obj["voice"],
                "voice_ext": obj["voice_ext"],
                "fax": obj["fax"],
                "fax_ext": obj["fax_ext"],
                "email": obj["email"],
                "auth_info": None,
                "disclose": orjson.dumps(obj["disclose"]).decode() if obj["disclose"] else None,
                "trn_status": trn.get("status"),
                "trn_gaining_id": self._rid(trn.get("gaining")),
                "trn_losing_id": self._rid(trn.get("losing")),
                "trn_requested_at": trn.get("requested_at"),
                "trn_action_at": trn.get("action_at"),
                "deleted_at": None,
            },
        )
        for p in obj["postal"]:
            street = [*p["street"], None, None, None]
            self.out.add(
                "contact_postal",
                {
                    "contact_id": cid,
                    "type": p["type"],
                    "name": p["name"],
                    "org": p["org"],
                    "street1": street[0],
                    "street2": street[1],
                    "street3": street[2],
                    "city": p["city"],
                    "sp": p["sp"],
                    "pc": p["pc"],
                    "cc": p["cc"],
                },
            )
        self._statuses(obj["roid"], obj["statuses"])
        self._history(
            "contact",
            obj["roid"],
            obj["id"],
            {
                "id": obj["id"],
                "roid": obj["roid"],
                "sponsor": obj["sponsor"],
                "statuses": [s for s, _, _ in obj["statuses"]],
                "postal": [{**p, "street": list(p["street"])} for p in obj["postal"]],
                "voice": obj["voice"],
                "voice_ext": obj["voice_ext"],
                "fax": obj["fax"],
                "fax_ext": obj["fax_ext"],
                "email": obj["email"],
                "disclose": obj["disclose"],
                "created_at": obj["created_at"],
                "updated_at": obj["updated_at"],
                "transferred_at": obj["transferred_at"],
                "deleted_at": None,
            },
        )

    def host(self, obj: dict[str, Any]) -> None:
        hid = self._id("hosts")
        self.host_ids[obj["name"]] = hid
        self.out.add(
            "hosts",
            {
                "id": hid,
                "roid": obj["roid"],
                "name": obj["name"],
                "registrar_id": self._rid(obj["sponsor"]),
                "creator_id": self._rid(obj["creator"]),
                "created_at": obj["created_at"],
                "updater_id": self._rid(obj["updater"]),
                "updated_at": obj["updated_at"],
                "transferred_at": obj["transferred_at"],
                "parent_domain_id": None,  # set once the domains are in
                "deleted_at": None,
            },
        )
        for address, version in obj["addresses"]:
            self.out.add("host_addresses", {"host_id": hid, "address": address, "version": version})
        if obj["addresses"]:
            self.host_addresses[obj["name"]] = obj["addresses"]
        self._statuses(obj["roid"], obj["statuses"])
        self._history(
            "host",
            obj["roid"],
            obj["name"],
            {
                "name": obj["name"],
                "roid": obj["roid"],
                "sponsor": obj["sponsor"],
                "statuses": [s for s, _, _ in obj["statuses"]],
                "addresses": [list(a) for a in obj["addresses"]],
                "superordinate": None,
                "created_at": obj["created_at"],
                "updated_at": obj["updated_at"],
                "transferred_at": obj["transferred_at"],
                "deleted_at": None,
            },
        )

    def domain(self, obj: dict[str, Any]) -> None:
        did = self._id("domains")
        trn = obj.get("trn") or {}
        registrant = obj["registrant"]

        def contact_id(handle: str) -> int:
            try:
                return self.contact_ids[handle]
            except KeyError:
                raise m.DepositError(
                    f"domain {obj['name']}: contact {handle!r} is not in the deposit"
                ) from None

        self.out.add(
            "domains",
            {
                "id": did,
                "roid": obj["roid"],
                "name": obj["name"],
                "tld_id": self.tld.id,
                "registrar_id": self._rid(obj["sponsor"]),
                "creator_id": self._rid(obj["creator"]),
                "created_at": obj["created_at"],
                "updater_id": self._rid(obj["updater"]),
                "updated_at": obj["updated_at"],
                "expires_at": obj["expires_at"],
                "transferred_at": obj["transferred_at"],
                "registrant_id": contact_id(registrant) if registrant else None,
                "auth_info": None,
                "auth_info_expires_at": None,
                "trn_status": trn.get("status"),
                "trn_gaining_id": self._rid(trn.get("gaining")),
                "trn_losing_id": self._rid(trn.get("losing")),
                "trn_requested_at": trn.get("requested_at"),
                "trn_action_at": trn.get("action_at"),
                "trn_expires_at": trn.get("expires_at"),
                "trn_period_months": None,
                "deleted_at": None,
                "delegation": self._delegation(obj),
            },
        )
        for kind, handle in obj["contacts"]:
            self.out.add(
                "domain_contacts",
                {"domain_id": did, "type": kind, "contact_id": contact_id(handle)},
            )
        for name in obj["ns"]:
            try:
                hid = self.host_ids[name]
            except KeyError:
                raise m.DepositError(
                    f"domain {obj['name']}: name server {name} is not in the deposit"
                ) from None
            self.out.add("domain_hosts", {"domain_id": did, "host_id": hid})
        for key_tag, alg, digest_type, digest, flags, protocol, key_alg, pub in obj["ds"]:
            self.out.add(
                "domain_ds",
                {
                    "domain_id": did,
                    "key_tag": key_tag,
                    "alg": alg,
                    "digest_type": digest_type,
                    "digest": digest,
                    "key_flags": flags,
                    "key_protocol": protocol,
                    "key_alg": key_alg,
                    "public_key": pub,
                },
            )
        for kind, starts, ends in self._grace(obj):
            self.out.add(
                "grace_periods",
                {
                    "domain_id": did,
                    "kind": kind,
                    "starts_at": starts,
                    "ends_at": ends,
                    "registrar_id": self._rid(obj["sponsor"]),
                    "ledger_id": None,
                },
            )
        self._statuses(obj["roid"], obj["statuses"])
        self._history(
            "domain",
            obj["roid"],
            obj["name"],
            {
                "name": obj["name"],
                "roid": obj["roid"],
                "sponsor": obj["sponsor"],
                "statuses": [s for s, _, _ in obj["statuses"]],
                "registrant": registrant,
                "contacts": [list(c) for c in obj["contacts"]],
                "ns": obj["ns"],
                "created_at": obj["created_at"],
                "updated_at": obj["updated_at"],
                "expires_at": obj["expires_at"],
                "transferred_at": obj["transferred_at"],
                "deleted_at": None,
                "ds": [f"{d[0]} {d[1]} {d[2]} {d[3]}" for d in obj["ds"]],
            },
        )

    def _delegation(self, obj: dict[str, Any]) -> str | None:
        """The domain's delegation text, from what the deposit gives: its name servers, DS
        data, and the addresses of those of its name servers that are subordinate to it
        (named by one label more than the domain: the hosts `finish` makes its children).
        Every restored host is live."""
        name = obj["name"]
        glue = [
            (host, address, version)
            for host in obj["ns"]
            if host.partition(".")[2] == name
            for address, version in self.host_addresses.get(host, ())
        ]
        ds = [tuple(d[:4]) for d in obj["ds"]]
        return delegation.render(name, obj["ns"], ds, glue)

    def _grace(self, obj: dict[str, Any]) -> Iterator[tuple[str, datetime, datetime]]:
        tld = self.tld
        changed = obj["updated_at"] or obj["created_at"]
        for status in obj["rgp"]:
            kind = _GRACE_OF_RGP.get(status)
            if kind == lifecycle.ADD:
                start, days = obj["created_at"], tld.add_grace_days
            elif kind == lifecycle.AUTO_RENEW:
                start, days = add_months(obj["expires_at"], -12), tld.autorenew_grace_days
            elif kind == lifecycle.TRANSFER:
                start, days = obj["transferred_at"] or changed, tld.transfer_grace_days
            elif kind == lifecycle.RENEW:
                start, days = changed, tld.renew_grace_days
            elif kind == lifecycle.REDEMPTION:
                start, days = changed, tld.redemption_days
            elif kind == lifecycle.PENDING_RESTORE:
                start, days = changed, lifecycle.RESTORE_REPORT_DAYS
            elif kind == lifecycle.PENDING_DELETE:
                start, days = changed, tld.pending_delete_days
            else:
                continue
            yield kind, start, start + timedelta(days=days)

    def finish(self) -> None:
        self.out.flush()
        self.out.close()
        r = t.registrars
        for rid, hashed in self._hashes.items():
            self.conn.execute(update(r).where(r.c.id == rid).values(password_hash=hashed.result()))
        h, d = t.hosts, t.domains
        # Subordinate hosts: the parent is the live domain named by all but the first label.
        cut = (
            func.instr(h.c.name, ".")
            if self.conn.dialect.name == "sqlite"
            else func.strpos(h.c.name, ".")
        )
        parent = (
            select(d.c.id)
            .where(d.c.name == func.substr(h.c.name, cut + 1), d.c.deleted_at.is_(None))
            .scalar_subquery()
        )
        self.conn.execute(
            update(h).where(h.c.name.like(f"%.{self.tld.name}")).values(parent_domain_id=parent)
        )
        for statement in self.deferred:
            self.conn.execute(text(statement))
        if self.conn.dialect.name == "postgresql":
            for table in ("contacts", "hosts", "domains"):
                self.conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                    )
                )


def restore(
    db: Database, fh: IO[bytes], tld: str, now: datetime, validate: bool = True
) -> Restored:
    """Load the deposit XML for `tld` read from `fh` into `db`, which must be empty.

    DepositError (and nothing written) if the database is not empty, the deposit is not a
    full one for `tld`, is invalid, refers to objects it does not hold, holds two objects
    with one handle, name or ROID, or its header's counts do not match what it holds.
    domreg writes registrars, contacts and hosts before the domains that refer to them, so
    its deposits load as a stream; objects that come before the registrars they refer to
    are held until the end.
    """
    envelope = reader.Envelope()
    with db.write() as conn:
        if not _empty(conn):
            raise m.DepositError(
                "the database is not empty: restore loads a deposit into an empty registry"
            )
        registry.add_tld(conn, now, tld)
        loader = Loader(conn, now)
        if conn.dialect.name == "postgresql":
            loader.deferred = _defer_checks(conn, _Batches.ORDER[2:])
        try:
            restored = _load(conn, loader, fh, envelope, tld, validate)
        except (IntegrityError, conn.dialect.loaded_dbapi.IntegrityError) as exc:
            # e.g. two objects with one handle, name or ROID (raw driver inserts raise the
            # driver's error, SQLAlchemy statements its own)
            cause = exc.orig if isinstance(exc, IntegrityError) else exc
            detail = str(cause).strip().splitlines()[0]
            raise m.DepositError(f"the deposit holds conflicting objects: {detail}") from None
        finally:
            loader.close()
    if not db.is_sqlite:
        _analyze(db)
    return restored


def _analyze(db: Database) -> None:
    """PostgreSQL: planner statistics of the loaded tables, now rather than when autovacuum
    comes round. Plans made before them take the tables for empty, and may look a name up
    by scanning a whole index whose first column is another (`(registrar_id, name)`); the
    server's prepared statements, planned once per connection, would keep such a plan
    until the statistics come."""
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def _load(
    conn: Connection,
    loader: Loader,
    fh: IO[bytes],
    envelope: reader.Envelope,
    tld: str,
    validate: bool,
) -> Restored:
    """The body of `restore`: the objects of the deposit, streamed into the loader."""
    loader.tld = conn.execute(select(t.tlds).where(t.tlds.c.name == tld.lower())).one()
    counts = {uri: 0 for uri in parse.URI.values()}
    held: list[tuple[str, dict[str, Any]]] = []
    for section, el in reader.read(fh, envelope, validate=validate):
        if envelope.type != "FULL":
            raise m.DepositError(f"only full deposits can be restored, not {envelope.type}")
        loader.result.deposit_id = envelope.id
        if loader.as_of is None and envelope.watermark:
            loader.as_of = m.parse_time(envelope.watermark)
        if section != "content":
            continue
        kind = parse.KIND.get(el.tag)
        if kind is None:
            raise m.DepositError(f"unexpected object {el.tag} in the deposit")
        counts[parse.URI[kind]] += 1
        if kind in ("eppParams", "policy"):
            continue
        obj = parse.PARSERS[kind](el)
        if kind == "registrar":
            loader.registrar(obj)
        elif held or not loader.registrar_ids:
            held.append((kind, obj))
        else:
            getattr(loader, kind)(obj)
    if not envelope.tld:
        raise m.DepositError("the deposit has no header")
    if envelope.tld != loader.tld.name:
        raise m.DepositError(f"the deposit is for TLD {envelope.tld}, not {tld}")
    order = {"contact": 0, "host": 1, "domain": 2}
    for kind, obj in sorted(held, key=lambda item: order[item[0]]):
        getattr(loader, kind)(obj)
    loader.finish()
    for uri, expected in envelope.counts.items():
        if uri in counts and counts[uri] != expected:
            raise m.DepositError(
                f"the header counts {expected} objects of {uri}, the deposit holds {counts[uri]}"
            )
    loader.result.tld = envelope.tld
    loader.result.counts = {u: c for u, c in counts.items() if c}
    return loader.result
