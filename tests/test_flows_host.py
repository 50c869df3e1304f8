"""Host flows (RFC 5732) on each backend: every result code path, authorisation, and that
failures change nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from domreg.flows import domain, domain_create, host
from domreg.flows.base import Actor, Context, SvTrIds
from domreg.model import statuses as st
from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support

NOW = datetime(2025, 3, 1, 12, 0, 0)
A = Actor(1, "rar-a")
B = Actor(2, "rar-b")


class Registry:
    """A migrated SQLite registry with one TLD (.test) and two accredited registrars."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.svtrids = SvTrIds()
        self.now = NOW

    def run(self, actor: Actor, flow: Callable[..., Any], *args: Any) -> Any:
        """One command: one transaction, one Context, a fresh server transaction id."""
        with self.db.write() as conn:
            ctx = Context(conn, self.now, actor, "CLTRID-1", self.svtrids.next())
            return flow(ctx, *args)

    def state(self) -> dict[str, list[str]]:
        """Every row of every table, to prove a failed command changed nothing."""
        with self.db.read() as conn:
            return {
                table.name: sorted(repr(tuple(r)) for r in conn.execute(select(table)))
                for table in t.metadata.sorted_tables
            }

    def fails(self, code: Result, actor: Actor, flow: Callable[..., Any], *args: Any) -> EppError:
        before = self.state()
        with pytest.raises(EppError) as caught:
            self.run(actor, flow, *args)
        assert caught.value.code == code, caught.value
        assert caught.value.reason
        assert self.state() == before
        return caught.value

    def rows(self, table: Any, *where: Any) -> list[Any]:
        """The rows in primary-key order: a table scan has none (PostgreSQL moves updated rows)."""
        with self.db.read() as conn:
            return list(conn.execute(select(table).where(*where).order_by(*table.primary_key)))

    def history(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Host history rows in the order they were written (a table scan has no order)."""
        return [
            (r.command, r.object_name, orjson.loads(r.snapshot))
            for r in self.rows(t.history)
            if r.object_type == "host"
        ]

    def host_row(self, name: str) -> Any:
        rows = self.rows(t.hosts, t.hosts.c.name == name, t.hosts.c.deleted_at.is_(None))
        return rows[0] if rows else None

    def set_status(self, roid: str, status: str) -> None:
        with self.db.write() as conn:
            conn.execute(insert(t.statuses).values(roid=roid, status=status))


@pytest.fixture
def reg(database_url: str) -> Iterator[Registry]:
    """The session's database for each backend (SQLite, PostgreSQL), emptied and seeded."""
    db = Database(database_url, pool_size=2)
    support.empty(db)
    with db.write() as conn:
        conn.execute(insert(t.tlds).values(id=1, name="test", repository_id="TEST", created_at=NOW))
        conn.execute(
            insert(t.registrars),
            [
                {
                    "id": a.id,
                    "clid": a.clid,
                    "name": a.clid,
                    "password_hash": "x",
                    "created_at": NOW,
                }
                for a in (A, B)
            ],
        )
        conn.execute(
            insert(t.registrar_tlds), [{"registrar_id": a.id, "tld_id": 1} for a in (A, B)]
        )
    support.fund(db, NOW, [a.id for a in (A, B)])
    yield Registry(db)
    support.empty(db)
    db.close()


def make_domain(reg: Registry, actor: Actor, name: str) -> None:
    reg.run(actor, domain_create.create, domain.DomainCreate(name=name, auth_info="domain-pw-1"))


def make_host(reg: Registry, actor: Actor, name: str, *addresses: tuple[str, str]) -> None:
    reg.run(actor, host.create, host.HostCreate(name, tuple(addresses)))


def add_ns(reg: Registry, actor: Actor, domain_name: str, host_name: str) -> None:
    reg.run(actor, domain.update, domain.DomainUpdate(name=domain_name, add_ns=(host_name,)))


V4 = ("192.0.2.1", "v4")
V4B = ("192.0.2.2", "v4")
V6 = ("2001:db8::1", "v6")


@pytest.fixture
def own(reg: Registry) -> Registry:
    """A has example.test with subordinate ns1.example.test (one IPv4 address)."""
    make_domain(reg, A, "example.test")
    make_host(reg, A, "ns1.example.test", V4)
    return reg


# ---------------------------------------------------------------- check


def test_check_reports_free_taken_and_invalid_names_without_failing(own: Registry) -> None:
    items = own.run(
        B,
        host.check,
        ["ns2.example.test", "NS1.example.test", "bad..name", "example.test", "ns.other.example"],
    )
    by_name = {i.name: i for i in items}
    assert [i.name for i in items] == [
        "ns2.example.test",
        "NS1.example.test",
        "bad..name",
        "example.test",
        "ns.other.example",
    ]
    assert by_name["ns2.example.test"].avail is True
    assert (by_name["NS1.example.test"].avail, by_name["NS1.example.test"].reason) == (
        False,
        "In use",
    )
    assert by_name["bad..name"].avail is False
    assert "Invalid host name" in (by_name["bad..name"].reason or "")
    assert by_name["example.test"].avail is False
    assert "domain-level" in (by_name["example.test"].reason or "")
    assert by_name["ns.other.example"].avail is True


def test_check_reports_a_deleted_host_name_as_available(own: Registry) -> None:
    own.run(A, host.delete_, "ns1.example.test")
    [item] = own.run(A, host.check, ["ns1.example.test"])
    assert item.avail is True


# ---------------------------------------------------------------- info


def test_info_is_open_to_any_registrar_and_sorts_addresses_v4_then_v6(reg: Registry) -> None:
    make_domain(reg, A, "example.test")
    make_host(
        reg,
        A,
        "ns1.example.test",
        ("2001:db8::2", "v6"),
        ("192.0.2.10", "v4"),
        ("2001:db8::1", "v6"),
        ("192.0.2.9", "v4"),
    )
    view = reg.run(B, host.info, "ns1.example.test")
    assert view.addresses == [
        ("192.0.2.9", "v4"),
        ("192.0.2.10", "v4"),
        ("2001:db8::1", "v6"),
        ("2001:db8::2", "v6"),
    ]
    assert (view.sponsor, view.creator, view.created_at) == ("rar-a", "rar-a", NOW)
    assert view.statuses == [("ok", None, None)]
    assert view.updater is None and view.updated_at is None
    assert view.roid.startswith("H") and view.roid.endswith("-TEST")


def test_info_shows_linked_while_a_live_domain_uses_the_host(own: Registry) -> None:
    make_domain(own, B, "other.test")
    add_ns(own, B, "other.test", "ns1.example.test")
    statuses = [s for s, _, _ in own.run(A, host.info, "ns1.example.test").statuses]
    assert statuses == [st.LINKED, st.OK]
    own.run(B, domain.delete_, "other.test")
    statuses = [s for s, _, _ in own.run(A, host.info, "ns1.example.test").statuses]
    assert statuses == [st.OK]


def test_info_of_unknown_host_is_2303_and_of_bad_name_is_2005(own: Registry) -> None:
    own.fails(Result.OBJECT_DOES_NOT_EXIST, B, host.info, "ns9.example.test")
    own.fails(Result.PARAMETER_VALUE_SYNTAX_ERROR, B, host.info, "-bad-.example.test")


# ---------------------------------------------------------------- create


def test_create_subordinate_host_records_parent_history_and_outbox(reg: Registry) -> None:
    make_domain(reg, A, "example.test")
    created = reg.run(A, host.create, host.HostCreate("NS1.Example.test", (V4, V6)))
    assert (created.name, created.created_at) == ("ns1.example.test", NOW)
    row = reg.host_row("ns1.example.test")
    parent = reg.rows(t.domains, t.domains.c.name == "example.test")[0]
    assert row.parent_domain_id == parent.id
    assert (row.registrar_id, row.creator_id, row.updater_id) == (A.id, A.id, None)
    assert row.roid.startswith("H") and row.roid.endswith("-TEST")
    [(command, name, snap)] = reg.history()
    assert (command, name) == ("host:create", "ns1.example.test")
    assert snap["addresses"] == [list(V4), list(V6)]
    assert snap["superordinate"] == "example.test"
    [event] = reg.rows(t.outbox, t.outbox.c.object_type == "host")
    assert (event.topic, event.roid, event.tld) == ("host:create", row.roid, "test")


def test_create_external_host_without_addresses(reg: Registry) -> None:
    reg.run(B, host.create, host.HostCreate("ns.provider.example"))
    row = reg.host_row("ns.provider.example")
    assert row.parent_domain_id is None
    assert row.roid.endswith("-HOST")
    [event] = reg.rows(t.outbox, t.outbox.c.object_type == "host")
    assert event.tld is None
    assert reg.history()[0][0] == "host:create"


def test_create_canonicalises_addresses_and_drops_duplicates(reg: Registry) -> None:
    make_domain(reg, A, "example.test")
    make_host(
        reg,
        A,
        "ns1.example.test",
        ("2001:DB8:0:0:0:0:0:1", "v6"),
        ("2001:db8::1", "v6"),
        ("192.0.2.1", "v4"),
        ("192.0.2.1", "v4"),
    )
    assert reg.run(A, host.info, "ns1.example.test").addresses == [
        ("192.0.2.1", "v4"),
        ("2001:db8::1", "v6"),
    ]


def test_create_with_a_bad_host_name_is_2005(reg: Registry) -> None:
    for bad in ("ns1..example.test", "-ns.example.test", "single", "ns1.exa mple.test", ""):
        reg.fails(Result.PARAMETER_VALUE_SYNTAX_ERROR, A, host.create, host.HostCreate(bad))


def test_create_with_a_domain_level_or_tld_name_is_2306(reg: Registry) -> None:
    with reg.db.write() as conn:
        conn.execute(
            insert(t.tlds).values(id=2, name="co.test", repository_id="COTEST", created_at=NOW)
        )
    make_domain(reg, A, "example.test")
    for name in ("example.test", "co.test", "shop.co.test"):
        err = reg.fails(
            Result.PARAMETER_VALUE_POLICY_ERROR, A, host.create, host.HostCreate(name, (V4,))
        )
        assert name in err.reason


@pytest.mark.parametrize(
    "address",
    [
        ("256.1.1.1", "v4"),
        ("192.0.2", "v4"),
        ("01.2.3.4", "v4"),
        ("192.0.2.1", "v6"),
        ("2001:db8::1", "v4"),
        ("2001:db8:::1", "v6"),
        ("fe80::1%eth0", "v6"),
        ("192.0.2.1", "v5"),
        ("", "v4"),
        ("x" * 10_000, "v6"),
    ],
)
def test_create_with_an_invalid_address_is_2005(reg: Registry, address: tuple[str, str]) -> None:
    make_domain(reg, A, "example.test")
    err = reg.fails(
        Result.PARAMETER_VALUE_SYNTAX_ERROR,
        A,
        host.create,
        host.HostCreate("ns1.example.test", (V4, address)),
    )
    assert len(err.reason) < 200


def test_create_subordinate_host_without_address_is_2003(reg: Registry) -> None:
    make_domain(reg, A, "example.test")
    err = reg.fails(
        Result.REQUIRED_PARAMETER_MISSING, A, host.create, host.HostCreate("ns1.example.test")
    )
    assert "address" in err.reason


def test_create_under_a_missing_superordinate_domain_is_2303(reg: Registry) -> None:
    err = reg.fails(
        Result.OBJECT_DOES_NOT_EXIST, A, host.create, host.HostCreate("ns1.nowhere.test", (V4,))
    )
    assert "superordinate domain nowhere.test" in err.reason


def test_create_under_another_registrars_domain_is_2201_with_or_without_glue(
    reg: Registry,
) -> None:
    make_domain(reg, A, "example.test")
    for addresses in ((V4,), ()):
        reg.fails(
            Result.AUTHORIZATION_ERROR,
            B,
            host.create,
            host.HostCreate("ns1.example.test", addresses),
        )


def test_create_under_a_domain_pending_delete_is_2304(reg: Registry) -> None:
    make_domain(reg, A, "example.test")
    reg.set_status(reg.rows(t.domains)[0].roid, st.PENDING_DELETE)
    reg.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION,
        A,
        host.create,
        host.HostCreate("ns1.example.test", (V4,)),
    )


def test_create_external_host_with_addresses_is_2306(reg: Registry) -> None:
    err = reg.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.create,
        host.HostCreate("ns.provider.example", (V4,)),
    )
    assert "external" in err.reason


def test_create_allows_13_addresses_and_refuses_14_with_2306(reg: Registry) -> None:
    make_domain(reg, A, "example.test")
    many = tuple((f"192.0.2.{i}", "v4") for i in range(1, 15))
    reg.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.create,
        host.HostCreate("ns1.example.test", many),
    )
    make_host(reg, A, "ns1.example.test", *many[:13])
    assert len(reg.run(A, host.info, "ns1.example.test").addresses) == 13


def test_create_of_an_existing_name_is_2302_until_it_is_deleted(own: Registry) -> None:
    own.fails(Result.OBJECT_EXISTS, A, host.create, host.HostCreate("ns1.example.test", (V4B,)))
    own.run(A, host.delete_, "ns1.example.test")
    make_host(own, A, "ns1.example.test", V4B)
    assert own.run(A, host.info, "ns1.example.test").addresses == [V4B]


def test_create_losing_a_race_for_the_name_is_2302(
    own: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pre-check sees no host (as if another session committed just after it looked):
    # the partial unique index catches it and the command fails cleanly.
    monkeypatch.setattr(host, "live_host", lambda conn, name, for_update=False: None)
    err = own.fails(
        Result.OBJECT_EXISTS, A, host.create, host.HostCreate("ns1.example.test", (V4B,))
    )
    assert isinstance(err.__context__, IntegrityError)


# ---------------------------------------------------------------- update


def test_update_by_another_registrar_is_2201(own: Registry) -> None:
    for cmd in (
        host.HostUpdate("ns1.example.test", add_addresses=(V4B,)),
        host.HostUpdate(
            "ns1.example.test", add_statuses=((st.CLIENT_DELETE_PROHIBITED, None, None),)
        ),
        host.HostUpdate("ns1.example.test", new_name="ns2.example.test"),
    ):
        own.fails(Result.AUTHORIZATION_ERROR, B, host.update, cmd)


def test_update_of_an_unknown_host_is_2303(own: Registry) -> None:
    own.fails(Result.OBJECT_DOES_NOT_EXIST, A, host.update, host.HostUpdate("ns9.example.test"))


def test_update_adds_and_removes_addresses_and_records_the_updater(own: Registry) -> None:
    own.now = NOW + timedelta(days=1)
    own.run(
        A,
        host.update,
        host.HostUpdate("ns1.example.test", add_addresses=(V6, V4B), rem_addresses=(V4,)),
    )
    view = own.run(B, host.info, "ns1.example.test")
    assert view.addresses == [V4B, V6]
    assert (view.updater, view.updated_at) == ("rar-a", NOW + timedelta(days=1))
    command, name, snap = own.history()[-1]
    assert (command, name, snap["addresses"]) == (
        "host:update",
        "ns1.example.test",
        [list(V4B), list(V6)],
    )
    assert own.rows(t.outbox)[-1].topic == "host:update"


def test_update_removing_an_absent_or_adding_a_present_address_is_2306(own: Registry) -> None:
    own.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", rem_addresses=(V4B,)),
    )
    own.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", add_addresses=(V4,)),
    )


def test_update_with_an_invalid_address_is_2005(own: Registry) -> None:
    for bad in (("999.0.0.1", "v4"), ("192.0.2.7", "v6")):
        own.fails(
            Result.PARAMETER_VALUE_SYNTAX_ERROR,
            A,
            host.update,
            host.HostUpdate("ns1.example.test", add_addresses=(bad,)),
        )


def test_update_giving_an_external_host_addresses_is_2306(reg: Registry) -> None:
    make_host(reg, A, "ns.provider.example")
    reg.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.update,
        host.HostUpdate("ns.provider.example", add_addresses=(V4,)),
    )


def test_update_leaving_a_subordinate_host_without_address_is_2306(own: Registry) -> None:
    err = own.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", rem_addresses=(V4,)),
    )
    assert "at least one address" in err.reason


def test_update_beyond_13_addresses_is_2306(own: Registry) -> None:
    more = tuple((f"198.51.100.{i}", "v4") for i in range(1, 14))
    own.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", add_addresses=more),
    )


def test_update_adds_and_removes_client_statuses_with_their_messages(own: Registry) -> None:
    own.run(
        A,
        host.update,
        host.HostUpdate(
            "ns1.example.test",
            add_statuses=((st.CLIENT_DELETE_PROHIBITED, "en", "keep it"),),
        ),
    )
    assert own.run(B, host.info, "ns1.example.test").statuses == [
        (st.CLIENT_DELETE_PROHIBITED, "en", "keep it")
    ]
    own.run(
        A,
        host.update,
        host.HostUpdate("ns1.example.test", rem_statuses=(st.CLIENT_DELETE_PROHIBITED,)),
    )
    assert own.run(B, host.info, "ns1.example.test").statuses == [("ok", None, None)]


def test_update_with_a_status_clients_cannot_set_is_2306(own: Registry) -> None:
    for cmd in (
        host.HostUpdate(
            "ns1.example.test", add_statuses=((st.SERVER_UPDATE_PROHIBITED, None, None),)
        ),
        host.HostUpdate("ns1.example.test", add_statuses=((st.CLIENT_HOLD, None, None),)),
        host.HostUpdate("ns1.example.test", add_statuses=((st.LINKED, None, None),)),
        host.HostUpdate("ns1.example.test", rem_statuses=(st.OK,)),
    ):
        own.fails(Result.PARAMETER_VALUE_POLICY_ERROR, A, host.update, cmd)


def test_update_adding_a_present_status_is_2306_removing_an_absent_one_is_a_no_op(
    own: Registry,
) -> None:
    lock = (st.CLIENT_DELETE_PROHIBITED, None, None)
    own.run(
        A,
        host.update,
        host.HostUpdate("ns1.example.test", rem_statuses=(st.CLIENT_DELETE_PROHIBITED,)),
    )
    own.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", add_statuses=(lock, lock)),
    )
    own.run(A, host.update, host.HostUpdate("ns1.example.test", add_statuses=(lock,)))
    own.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", add_statuses=(lock,)),
    )


def test_update_with_a_status_language_tag_too_long_to_store_is_2306(own: Registry) -> None:
    lock = (st.CLIENT_DELETE_PROHIBITED, "en-" + "x" * 14, "keep")
    own.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", add_statuses=(lock,)),
    )


def test_client_update_prohibited_blocks_updates_except_removing_it(own: Registry) -> None:
    lock = (st.CLIENT_UPDATE_PROHIBITED, None, None)
    own.run(A, host.update, host.HostUpdate("ns1.example.test", add_statuses=(lock,)))
    own.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", add_addresses=(V4B,)),
    )
    own.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION,
        A,
        host.update,
        host.HostUpdate(
            "ns1.example.test",
            rem_statuses=(st.CLIENT_UPDATE_PROHIBITED,),
            add_addresses=(V4B,),
        ),
    )
    own.run(
        A,
        host.update,
        host.HostUpdate("ns1.example.test", rem_statuses=(st.CLIENT_UPDATE_PROHIBITED,)),
    )
    own.run(A, host.update, host.HostUpdate("ns1.example.test", add_addresses=(V4B,)))
    assert own.run(A, host.info, "ns1.example.test").addresses == [V4, V4B]


def test_server_update_prohibited_blocks_even_the_client_unlock(own: Registry) -> None:
    own.run(
        A,
        host.update,
        host.HostUpdate(
            "ns1.example.test", add_statuses=((st.CLIENT_UPDATE_PROHIBITED, None, None),)
        ),
    )
    own.set_status(own.host_row("ns1.example.test").roid, st.SERVER_UPDATE_PROHIBITED)
    own.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", rem_statuses=(st.CLIENT_UPDATE_PROHIBITED,)),
    )


# ---------------------------------------------------------------- rename


def test_rename_under_another_own_domain_moves_the_parent_and_keeps_the_old_name_in_history(
    own: Registry,
) -> None:
    make_domain(own, A, "second.test")
    roid = own.host_row("ns1.example.test").roid
    own.run(A, host.update, host.HostUpdate("ns1.example.test", new_name="NS.second.test"))
    row = own.host_row("ns.second.test")
    second = own.rows(t.domains, t.domains.c.name == "second.test")[0]
    assert (row.roid, row.parent_domain_id) == (roid, second.id)
    own.fails(Result.OBJECT_DOES_NOT_EXIST, A, host.info, "ns1.example.test")
    command, name, snap = own.history()[-1]
    assert (command, name, snap["old_name"], snap["superordinate"]) == (
        "host:update",
        "ns.second.test",
        "ns1.example.test",
        "second.test",
    )
    # example.test no longer has a subordinate host, so it can be deleted.
    own.run(A, domain.delete_, "example.test")


def test_rename_to_a_name_in_use_or_to_its_own_name_is_2302(own: Registry) -> None:
    make_host(own, A, "ns2.example.test", V4B)
    for new in ("ns2.example.test", "ns1.example.test"):
        own.fails(
            Result.OBJECT_EXISTS, A, host.update, host.HostUpdate("ns1.example.test", new_name=new)
        )


def test_rename_losing_a_race_for_the_new_name_is_2302(
    own: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_host(own, A, "ns2.example.test", V4B)
    monkeypatch.setattr(host, "live_host", lambda conn, name, for_update=False: None)
    err = own.fails(
        Result.OBJECT_EXISTS,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", new_name="ns2.example.test"),
    )
    assert isinstance(err.__context__, IntegrityError)


def test_rename_with_bad_syntax_is_2005_and_to_a_domain_level_name_is_2306(own: Registry) -> None:
    own.fails(
        Result.PARAMETER_VALUE_SYNTAX_ERROR,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", new_name="ns1..example.test"),
    )
    own.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", new_name="example.test"),
    )


def test_rename_under_a_missing_domain_is_2303(own: Registry) -> None:
    own.fails(
        Result.OBJECT_DOES_NOT_EXIST,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", new_name="ns1.nowhere.test"),
    )


def test_rename_under_another_registrars_domain_is_2201(own: Registry) -> None:
    make_domain(own, B, "theirs.test")
    own.fails(
        Result.AUTHORIZATION_ERROR,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", new_name="ns1.theirs.test"),
    )


def test_rename_to_external_needs_its_addresses_removed_in_the_same_update(own: Registry) -> None:
    err = own.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.update,
        host.HostUpdate("ns1.example.test", new_name="ns1.provider.example"),
    )
    assert "same update" in err.reason
    own.run(
        A,
        host.update,
        host.HostUpdate("ns1.example.test", new_name="ns1.provider.example", rem_addresses=(V4,)),
    )
    row = own.host_row("ns1.provider.example")
    assert row.parent_domain_id is None
    assert own.run(A, host.info, "ns1.provider.example").addresses == []


def test_rename_external_to_subordinate_needs_an_address(reg: Registry) -> None:
    make_domain(reg, A, "example.test")
    make_host(reg, A, "ns.provider.example")
    reg.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        A,
        host.update,
        host.HostUpdate("ns.provider.example", new_name="ns.example.test"),
    )
    reg.run(
        A,
        host.update,
        host.HostUpdate("ns.provider.example", new_name="ns.example.test", add_addresses=(V6,)),
    )
    assert reg.host_row("ns.example.test").parent_domain_id is not None
    assert reg.rows(t.outbox)[-1].tld == "test"


# ---------------------------------------------------------------- delete


def test_delete_purges_the_host_and_keeps_its_history(own: Registry) -> None:
    roid = own.host_row("ns1.example.test").roid
    own.run(
        A,
        host.update,
        host.HostUpdate(
            "ns1.example.test", add_statuses=((st.CLIENT_UPDATE_PROHIBITED, None, None),)
        ),
    )
    own.now = NOW + timedelta(hours=1)
    own.run(A, host.delete_, "ns1.example.test")
    [row] = own.rows(t.hosts, t.hosts.c.roid == roid)
    assert (row.deleted_at, row.updater_id) == (NOW + timedelta(hours=1), A.id)
    assert own.rows(t.host_addresses, t.host_addresses.c.host_id == row.id) == []
    assert own.rows(t.statuses, t.statuses.c.roid == roid) == []
    assert [c for c, _, _ in own.history()] == ["host:create", "host:update", "host:delete"]
    assert own.history()[-1][2]["deleted_at"] is not None
    own.fails(Result.OBJECT_DOES_NOT_EXIST, A, host.info, "ns1.example.test")
    # Its superordinate domain has no subordinate host left.
    own.run(A, domain.delete_, "example.test")


def test_delete_by_another_registrar_is_2201(own: Registry) -> None:
    own.fails(Result.AUTHORIZATION_ERROR, B, host.delete_, "ns1.example.test")


def test_delete_of_an_unknown_host_is_2303(own: Registry) -> None:
    own.fails(Result.OBJECT_DOES_NOT_EXIST, A, host.delete_, "ns9.example.test")


def test_delete_prohibited_by_status_is_2304(own: Registry) -> None:
    own.run(
        A,
        host.update,
        host.HostUpdate(
            "ns1.example.test", add_statuses=((st.CLIENT_DELETE_PROHIBITED, None, None),)
        ),
    )
    own.fails(Result.OBJECT_STATUS_PROHIBITS_OPERATION, A, host.delete_, "ns1.example.test")


def test_delete_of_a_host_a_domain_uses_is_2305(own: Registry) -> None:
    make_domain(own, B, "other.test")
    add_ns(own, B, "other.test", "ns1.example.test")
    err = own.fails(
        Result.OBJECT_ASSOCIATION_PROHIBITS_OPERATION, A, host.delete_, "ns1.example.test"
    )
    assert "other.test" in err.reason
