"""The hot commands' fast paths give what the general code gives, on each backend.

`domain_create.create` builds its history snapshot from the values it wrote instead of
reading the domain back, reads its TLD, accreditation, holder, reserved reason and price in
one statement (with the TLD's launch phase), and inserts with ON CONFLICT instead of a
savepoint; these tests hold each of those to the general code's answer (`domain.snapshot`,
`billing.quote`, the grace period from the TLD row). On PostgreSQL it writes its history,
outbox, charge, ledger and grace rows in one statement: the rows are held to those `record`,
`billing.charge` and `lifecycle.created` write, and a 2104 to writing nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, insert, select, update

from domreg.clock import Clock
from domreg.flows import billing, contact, domain, domain_create, fees, host, launch, lifecycle
from domreg.flows.base import Actor, Context, SvTrIds, record
from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Database

SVTRIDS = SvTrIds("FAST")


def _actor(db: Database, clid: str) -> Actor:
    with db.read() as conn:
        rid = conn.execute(select(t.registrars.c.id).where(t.registrars.c.clid == clid)).scalar()
    return Actor(int(rid), clid)


def _run(db: Database, actor: Actor, flow, *args):  # type: ignore[no-untyped-def]
    with db.write() as conn:
        return flow(Context(conn, Clock().now(), actor, "FAST-1", SVTRIDS.next()), *args)


def _history(db: Database, name: str) -> dict:  # type: ignore[type-arg]
    with db.read() as conn:
        raw = conn.execute(
            select(t.history.c.snapshot).where(
                t.history.c.object_name == name, t.history.c.command == "domain:create"
            )
        ).scalar_one()
    return dict(orjson.loads(raw))


def _read_back(db: Database, name: str) -> dict:  # type: ignore[type-arg]
    with db.read() as conn:
        domain_id = conn.execute(select(t.domains.c.id).where(t.domains.c.name == name)).scalar()
        return dict(orjson.loads(orjson.dumps(domain.snapshot(conn, domain_id), default=str)))


@pytest.mark.parametrize("with_links", [False, True])
def test_create_snapshot_is_the_read_back_one(db: Database, with_links: bool) -> None:
    x = _actor(db, "ClientX")
    cmd = domain.DomainCreate("plain.test", "auth-INFO1")
    if with_links:
        postal = contact.PostalInfo("int", "Jo", None, ("1 Road",), "Town", None, None, "DE")
        for handle in ("jo1", "al1"):
            _run(db, x, contact.create, contact.ContactCreate(handle, (postal,), "jo@x.ex", "a-B1"))
        for ns in ("ns2.other.example", "ns1.other.example"):
            _run(db, x, host.create, host.HostCreate(ns))
        cmd = domain.DomainCreate(
            "linked.test",
            "auth-INFO1",
            ns=("ns2.other.example", "NS1.other.example", "ns2.other.example"),
            registrant="jo1",
            contacts=(("tech", "jo1"), ("admin", "al1"), ("admin", "jo1"), ("tech", "jo1")),
        )
    _run(db, x, domain_create.create, cmd)
    recorded = _history(db, cmd.name)
    assert recorded == _read_back(db, cmd.name)
    assert recorded["statuses"] == (["ok"] if with_links else ["inactive"])


def test_create_charges_what_quote_says_and_opens_the_add_grace(db: Database) -> None:
    x = _actor(db, "ClientX")
    with db.write() as conn:
        tld_id = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == "test")).scalar()
        conn.execute(update(t.tlds).where(t.tlds.c.id == tld_id).values(add_grace_days=3))
        conn.execute(
            insert(t.registrar_prices).values(
                registrar_id=x.id, tld_id=tld_id, operation="create", price=777
            )
        )
        conn.execute(
            insert(t.premium_names).values(
                tld_id=tld_id,
                label="gold",
                price_class="gold",
                create_price=50_000,
                renew_price=1,
                transfer_price=1,
                restore_price=1,
            )
        )
        quotes = {
            label: billing.quote(conn, x.id, tld_id, label, "create", 2) for label in ("a", "gold")
        }
    assert quotes["a"].amount == 2 * 777 and quotes["gold"].amount == 100_000
    for label, fee in (("a", None), ("gold", fees.FeeStatement(50_000, "USD"))):
        _run(db, x, domain_create.create, domain.DomainCreate(f"{label}.test", "pw-X1", fee=fee))
    with db.read() as conn:
        rows = conn.execute(
            select(t.ledger.c.domain_name, t.ledger.c.amount).where(t.ledger.c.kind == "create")
        )
        amounts = {r.domain_name: r.amount for r in rows}
        grace = conn.execute(
            select(
                t.grace_periods.c.starts_at,
                t.grace_periods.c.ends_at,
                t.grace_periods.c.registrar_id,
            )
        ).all()
    # one year each: the override for a standard name, the premium price for a premium one
    assert amounts == {"a.test": -777, "gold.test": -50_000}
    assert len(grace) == 2
    for starts, ends, registrar_id in grace:
        assert ends - starts == timedelta(days=3) and registrar_id == x.id


def test_create_refusals_keep_their_order(db: Database) -> None:
    x = _actor(db, "ClientX")
    with db.write() as conn:
        tld_id = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == "test")).scalar()
        conn.execute(insert(t.reserved_names).values(tld_id=tld_id, label="kept", reason="ours"))
        conn.execute(
            t.registrar_tlds.delete().where(
                t.registrar_tlds.c.registrar_id == x.id, t.registrar_tlds.c.tld_id != tld_id
            )
        )
    _run(db, x, domain_create.create, domain.DomainCreate("taken.test", "pw-X1"))
    cases = [
        ("x.b.test", Result.PARAMETER_VALUE_POLICY_ERROR, "not directly under a TLD"),
        ("x.com", Result.AUTHORIZATION_ERROR, "not accredited"),
        ("taken.test", Result.OBJECT_EXISTS, "already registered"),
        ("kept.test", Result.OBJECT_EXISTS, "reserved: ours"),
    ]
    for name, code, reason in cases:
        with pytest.raises(EppError) as caught:
            _run(db, x, domain_create.create, domain.DomainCreate(name, "pw-X1"))
        assert caught.value.code == code and reason in caught.value.reason, name


def _written(conn, svtrid: str) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    """The history, outbox, ledger and grace rows of one command, without their ids and
    svTRID, times as offsets from the history row's."""
    rows = {
        "history": conn.execute(select(t.history).where(t.history.c.svtrid == svtrid)).one(),
        "outbox": conn.execute(select(t.outbox).where(t.outbox.c.svtrid == svtrid)).one(),
        "ledger": conn.execute(select(t.ledger).where(t.ledger.c.svtrid == svtrid)).one(),
    }
    rows["grace"] = conn.execute(
        select(t.grace_periods).where(t.grace_periods.c.ledger_id == rows["ledger"].id)
    ).one()
    at = rows["history"].at
    out = {}
    for table, row in rows.items():
        values = row._asdict()
        for key in ("id", "svtrid", "ledger_id"):
            values.pop(key, None)
        out[table] = {
            k: v - at if k in ("at", "created_at", "starts_at", "ends_at") else v
            for k, v in values.items()
        }
    return out


@pytest.mark.parametrize("with_ns", [False, True])
def test_create_writes_what_record_charge_and_created_write(db: Database, with_ns: bool) -> None:
    """The create's writes (on PostgreSQL one statement with the domain INSERT, or after it
    when there are nameservers to link) against `record`, `billing.charge` and
    `lifecycle.created` run one by one for the same domain: the same rows."""
    x = _actor(db, "ClientX")
    if with_ns:
        _run(db, x, host.create, host.HostCreate("ns1.other.example"))
    with db.write() as conn:
        before = conn.execute(
            select(t.registrars.c.balance).where(t.registrars.c.id == x.id)
        ).scalar_one()
        conn.execute(
            update(t.registrars)
            .where(t.registrars.c.id == x.id)
            .values(low_balance_threshold=before - 1)
        )
    ns = ("ns1.other.example",) if with_ns else ()
    created = _run(db, x, domain_create.create, domain.DomainCreate("tail.test", "pw-X1", ns=ns))
    general_svtrid = SVTRIDS.next()
    with db.write() as conn:
        row = conn.execute(select(t.domains).where(t.domains.c.name == "tail.test")).one()
        fast_svtrid, snapshot = conn.execute(
            select(t.history.c.svtrid, t.history.c.snapshot).where(
                t.history.c.object_name == "tail.test"
            )
        ).one()
        ctx = Context(conn, Clock().now(), x, "FAST-1", general_svtrid)
        record(
            ctx,
            object_type="domain",
            roid_=row.roid,
            name="tail.test",
            command="domain:create",
            snapshot=orjson.loads(snapshot),
            tld="test",
        )
        ledger_id = billing.charge(
            ctx,
            registrar_id=x.id,
            tld_id=row.tld_id,
            label="tail",
            domain_name="tail.test",
            roid=row.roid,
            operation="create",
        )
        lifecycle.created(ctx, row.id, ledger_id)
    with db.read() as conn:
        fast, general = _written(conn, fast_svtrid), _written(conn, general_svtrid)
        ledger = conn.execute(select(t.ledger).where(t.ledger.c.svtrid == fast_svtrid)).one()
        grace = conn.execute(
            select(t.grace_periods).where(t.grace_periods.c.ledger_id == ledger.id)
        ).one()
        after = conn.execute(
            select(t.registrars.c.balance).where(t.registrars.c.id == x.id)
        ).scalar_one()
        polls = conn.execute(
            select(t.poll_messages.c.kind).where(t.poll_messages.c.registrar_id == x.id)
        ).all()
    assert fast == general
    assert created.ledger_id == ledger.id and grace.domain_id == row.id
    assert after == before + 2 * ledger.amount
    assert [p.kind for p in polls] == ["low_balance"]  # the first charge crossed it


def test_create_2104_writes_nothing(db: Database) -> None:
    x = _actor(db, "ClientX")

    def counts() -> list[int]:
        with db.read() as conn:
            rows = [
                conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (t.domains, t.history, t.outbox, t.ledger, t.grace_periods)
            ]
            balance = select(t.registrars.c.balance).where(t.registrars.c.id == x.id)
            return [*rows, conn.execute(balance).scalar_one()]

    with db.write() as conn:
        tld_id = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == "test")).scalar()
        price = billing.quote(conn, x.id, tld_id, "poor", "create")
        conn.execute(
            update(t.registrars)
            .where(t.registrars.c.id == x.id)
            .values(balance=price.amount - 1, credit_limit=0)
        )
    before = counts()
    with pytest.raises(EppError) as caught:
        _run(db, x, domain_create.create, domain.DomainCreate("poor.test", "pw-X1"))
    assert caught.value.code == Result.BILLING_FAILURE
    assert "insufficient funds" in caught.value.reason
    assert counts() == before


def _phase_by_rule(phases: list[launch.PhaseView], now: datetime) -> launch.Active | None:
    """The TLD's phase at `now` by the rule in Python over its phase rows (what
    `launch.active_phase` computed before the statement did)."""
    if not phases:
        return launch.Active(launch.Phase("open"), False)
    for p in phases:
        if p.starts_at <= now and (p.ends_at is None or now < p.ends_at):
            return launch.Active(launch.Phase(p.name, p.sub_phase), True)
    return None


def test_create_reads_the_launch_phase_the_rule_gives(db: Database) -> None:
    """The phase `domain_create.create` reads with its facts (and `launch.active_phase` alone)
    is the one the rule gives, at and around every boundary, with and without phase rows."""
    start = datetime(2031, 3, 1, 12, 0, 0)
    tick = timedelta(microseconds=1)
    with db.write() as conn:
        launch.add_phase(conn, "test", "sunrise", start, start + timedelta(days=30))
        launch.add_phase(conn, "test", "custom", start + timedelta(days=40), None, "late-open")
    x = _actor(db, "ClientX")
    with db.read() as conn:
        phases = launch.list_phases(conn, "test")
        for tld in ("test", "com"):
            tld_id = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == tld)).scalar()
            rows = phases if tld == "test" else []
            for edge in (start, start + timedelta(days=30), start + timedelta(days=40)):
                for now in (edge - tick, edge, edge + tick):
                    facts = domain_create._CREATE_FACTS.first(
                        conn, tld=tld, name=f"a.{tld}", label="a", registrar_id=x.id, now=now
                    )
                    expected = _phase_by_rule(rows, now)
                    assert launch.active_of(facts) == expected, (tld, now)
                    assert launch.active_phase(conn, tld_id, now) == expected, (tld, now)
