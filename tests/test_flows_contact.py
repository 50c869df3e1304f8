"""Contact flows (RFC 5733): every result code path, disclosure, authorisation, transfers,
and that failures change nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from domreg.flows import contact, domain, domain_create
from domreg.flows import transfer as trn
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
C = Actor(3, "rar-c")  # a third party to transfers
PW = "contact-pw-1"


class Registry:
    """A migrated SQLite registry with one TLD (.test) and three accredited registrars."""

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

    def public(self, handle: str) -> contact.ContactInfo:
        """The public view (what RDAP and WHOIS may show): only what the contact disclosed."""
        with self.db.read() as conn:
            return contact.render_info(conn, self.contact_row(handle), full=False)

    def contact_row(self, handle: str) -> Any:
        [row] = self.rows(
            t.contacts, t.contacts.c.handle == handle, t.contacts.c.deleted_at.is_(None)
        )
        return row

    def history(self) -> list[tuple[str, str, int, dict[str, Any]]]:
        return [
            (r.command, r.object_name, r.registrar_id, orjson.loads(r.snapshot))
            for r in self.rows(t.history)
            if r.object_type == "contact"
        ]

    def polls(self, actor: Actor) -> list[tuple[str, dict[str, Any]]]:
        return [
            (r.message, orjson.loads(r.payload))
            for r in self.rows(t.poll_messages, t.poll_messages.c.registrar_id == actor.id)
        ]

    def set_status(self, handle: str, status: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                insert(t.statuses).values(roid=self.contact_row(handle).roid, status=status)
            )


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
                for a in (A, B, C)
            ],
        )
        conn.execute(
            insert(t.registrar_tlds), [{"registrar_id": a.id, "tld_id": 1} for a in (A, B, C)]
        )
    support.fund(db, NOW, [a.id for a in (A, B, C)])
    yield Registry(db)
    support.empty(db)
    db.close()


INT = contact.PostalInfo(
    type="int",
    name="John Doe",
    org="Example Inc.",
    street=("123 Example Dr.", "Suite 100"),
    city="Dulles",
    sp="VA",
    pc="20166-6503",
    cc="US",
)
LOC = contact.PostalInfo(
    type="loc",
    name="Jürgen Müller",
    org="Beispiel GmbH",
    street=("Hauptstraße 1",),
    city="München",
    sp=None,
    pc="80331",
    cc="DE",
)


def new_contact(handle: str = "sh8013", **changes: Any) -> contact.ContactCreate:
    fields: dict[str, Any] = {
        "id": handle,
        "postal": (INT,),
        "email": "jdoe@example.com",
        "auth_info": PW,
        "voice": "+1.7035555555",
        "voice_ext": "1234",
        "fax": "+1.7035555556",
    }
    fields.update(changes)
    return contact.ContactCreate(**fields)


@pytest.fixture
def own(reg: Registry) -> Registry:
    """A sponsors contact sh8013 with an int and a loc postalInfo and no disclose preference."""
    reg.run(A, contact.create, new_contact(postal=(INT, LOC)))
    return reg


def update(handle: str = "sh8013", **changes: Any) -> contact.ContactUpdate:
    return contact.ContactUpdate(id=handle, **changes)


def transfer(op: str, auth_info: str | None = None) -> contact.ContactTransfer:
    return contact.ContactTransfer(op=op, id="sh8013", auth_info=auth_info)


# ---------------------------------------------------------------- check


def test_check_reports_free_taken_and_invalid_ids_without_failing(own: Registry) -> None:
    items = own.run(B, contact.check, ["sh8013", "free-1", "ab", "x" * 17, " lead", "a  b"])
    assert [(i.id, i.avail) for i in items] == [
        ("sh8013", False),
        ("free-1", True),
        ("ab", False),
        ("x" * 17, False),
        (" lead", False),
        ("a  b", False),
    ]
    assert items[0].reason == "In use"
    assert all("Invalid contact id" in (i.reason or "") for i in items[2:])


def test_check_reports_a_deleted_id_as_available(own: Registry) -> None:
    own.run(A, contact.delete_, "sh8013")
    [item] = own.run(A, contact.check, ["sh8013"])
    assert item.avail is True


# ---------------------------------------------------------------- create


def test_create_stores_the_contact_with_history_and_outbox(reg: Registry) -> None:
    disclose = contact.Disclose(True, frozenset({"voice", "email"}))
    created = reg.run(A, contact.create, new_contact(postal=(LOC, INT), disclose=disclose))
    assert (created.id, created.created_at) == ("sh8013", NOW)
    row = reg.contact_row("sh8013")
    assert row.roid.startswith("C") and row.roid.endswith("-CONT")
    assert (row.registrar_id, row.creator_id, row.updater_id, row.updated_at) == (
        A.id,
        A.id,
        None,
        None,
    )
    assert orjson.loads(row.disclose) == {"flag": 1, "fields": ["email", "voice"]}
    assert len(reg.rows(t.contact_postal, t.contact_postal.c.contact_id == row.id)) == 2
    [(command, name, actor_id, snap)] = reg.history()
    assert (command, name, actor_id) == ("contact:create", "sh8013", A.id)
    assert [p["type"] for p in snap["postal"]] == ["int", "loc"]
    assert "auth_info" not in snap
    [event] = reg.rows(t.outbox)
    assert (event.topic, event.object_type, event.name, event.tld) == (
        "contact:create",
        "contact",
        "sh8013",
        None,
    )
    view = reg.run(A, contact.info, "sh8013")
    assert view.postal == [INT, LOC]
    assert (view.voice, view.voice_ext, view.fax, view.fax_ext) == (
        "+1.7035555555",
        "1234",
        "+1.7035555556",
        None,
    )


def test_create_of_a_live_id_is_2302_until_it_is_deleted(own: Registry) -> None:
    own.fails(Result.OBJECT_EXISTS, B, contact.create, new_contact())
    own.run(A, contact.delete_, "sh8013")
    own.run(B, contact.create, new_contact())
    assert own.public("sh8013").sponsor == "rar-b"


def test_create_losing_a_race_for_the_id_is_2302(
    own: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contact, "live_contact", lambda conn, handle, for_update=False: None)
    err = own.fails(Result.OBJECT_EXISTS, B, contact.create, new_contact())
    assert isinstance(err.__context__, IntegrityError)


def test_create_without_postal_info_is_2003(reg: Registry) -> None:
    reg.fails(Result.REQUIRED_PARAMETER_MISSING, A, contact.create, new_contact(postal=()))


def test_create_with_one_postal_type_twice_is_2306(reg: Registry) -> None:
    reg.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR, A, contact.create, new_contact(postal=(INT, INT))
    )


def test_create_with_non_ascii_in_an_int_postal_info_is_2005(reg: Registry) -> None:
    for field in ("name", "org", "city", "sp", "pc"):
        bad = dataclasses.replace(INT, **{field: "Zürich"})
        err = reg.fails(
            Result.PARAMETER_VALUE_SYNTAX_ERROR, A, contact.create, new_contact(postal=(bad,))
        )
        assert "ASCII" in err.reason and field in err.reason
    bad = dataclasses.replace(INT, street=("Hauptstraße 1",))
    reg.fails(Result.PARAMETER_VALUE_SYNTAX_ERROR, A, contact.create, new_contact(postal=(bad,)))
    # The same text is fine in a "loc" postalInfo.
    reg.run(A, contact.create, new_contact(postal=(LOC,)))


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "xyz"},
        {"name": ""},
        {"city": "   "},
        {"cc": "XX"},
        {"cc": "USA"},
        {"street": ("1", "2", "3", "4")},
        {"name": "x" * 256},
        {"pc": "1" * 17},
        {"city": "Dulles\nVA"},
    ],
)
def test_create_with_a_bad_postal_value_is_2005(reg: Registry, changes: dict[str, Any]) -> None:
    bad = dataclasses.replace(INT, **changes)
    reg.fails(Result.PARAMETER_VALUE_SYNTAX_ERROR, A, contact.create, new_contact(postal=(bad,)))


def test_create_stores_the_country_code_in_upper_case(reg: Registry) -> None:
    reg.run(A, contact.create, new_contact(postal=(dataclasses.replace(INT, cc="us"),)))
    assert reg.run(A, contact.info, "sh8013").postal[0].cc == "US"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"id": "ab"}, Result.PARAMETER_VALUE_SYNTAX_ERROR),
        ({"id": "x" * 17}, Result.PARAMETER_VALUE_SYNTAX_ERROR),
        ({"voice": "7035555555"}, Result.PARAMETER_VALUE_SYNTAX_ERROR),
        ({"voice": "+1.703555\n"}, Result.PARAMETER_VALUE_SYNTAX_ERROR),
        ({"fax": "+12345.1"}, Result.PARAMETER_VALUE_SYNTAX_ERROR),
        ({"voice_ext": "1 2"}, Result.PARAMETER_VALUE_SYNTAX_ERROR),
        ({"voice": None, "voice_ext": "12"}, Result.REQUIRED_PARAMETER_MISSING),
        ({"email": "no-at-sign"}, Result.PARAMETER_VALUE_SYNTAX_ERROR),
        ({"email": "two@@example.com"}, Result.PARAMETER_VALUE_SYNTAX_ERROR),
        ({"email": ""}, Result.REQUIRED_PARAMETER_MISSING),
        ({"email": "a@" + "b" * 300 + ".com"}, Result.PARAMETER_VALUE_POLICY_ERROR),
        ({"auth_info": "p" * 256}, Result.PARAMETER_VALUE_POLICY_ERROR),
        (
            {"disclose": contact.Disclose(True, frozenset({"birthday"}))},
            Result.PARAMETER_VALUE_SYNTAX_ERROR,
        ),
    ],
)
def test_create_with_a_bad_value_fails_with_its_code(
    reg: Registry, changes: dict[str, Any], code: Result
) -> None:
    reg.fails(code, A, contact.create, new_contact(**changes))


# ---------------------------------------------------------------- info


def test_info_shows_the_sponsor_everything_and_that_auth_info_is_set(own: Registry) -> None:
    view = own.run(A, contact.info, "sh8013")
    assert view.full is True
    assert (view.id, view.sponsor, view.creator, view.created_at) == (
        "sh8013",
        "rar-a",
        "rar-a",
        NOW,
    )
    assert view.postal == [INT, LOC]
    # RFC 9154: the authInfo is stored hashed; the sponsor sees "" (set), never the value.
    assert (view.email, view.auth_info) == ("jdoe@example.com", "")
    assert PW not in str(own.contact_row("sh8013"))
    assert view.statuses == [("ok", None, None)]


def test_info_with_the_right_auth_info_shows_everything_to_another_registrar(
    own: Registry,
) -> None:
    view = own.run(B, contact.info, "sh8013", PW)
    assert view.full is True
    # RFC 9154 section 5.3: no hint to a non-sponsor whether an authInfo is set.
    assert (view.postal, view.auth_info) == ([INT, LOC], None)


def test_info_with_a_wrong_auth_info_is_2202(own: Registry) -> None:
    own.fails(Result.INVALID_AUTHORIZATION_INFORMATION, B, contact.info, "sh8013", "guess")


def test_info_of_an_unknown_contact_is_2303(own: Registry) -> None:
    own.fails(Result.OBJECT_DOES_NOT_EXIST, B, contact.info, "nobody")


def test_info_by_a_non_sponsor_without_auth_info_is_2201(own: Registry) -> None:
    own.fails(Result.AUTHORIZATION_ERROR, B, contact.info, "sh8013")


def test_public_view_hides_personal_data_by_default(own: Registry) -> None:
    view = own.public("sh8013")
    assert view.full is False
    assert (view.id, view.sponsor, view.creator, view.created_at) == (
        "sh8013",
        "rar-a",
        "rar-a",
        NOW,
    )
    assert view.roid == own.contact_row("sh8013").roid
    assert view.statuses == [("ok", None, None)]
    assert view.postal == []
    assert (view.voice, view.fax, view.email, view.auth_info, view.disclose) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_public_view_shows_only_what_the_contact_disclosed(own: Registry) -> None:
    disclose = contact.Disclose(True, frozenset({"name_int", "addr_int", "email", "addr_loc"}))
    own.run(A, contact.update, update(disclose=disclose))
    view = own.public("sh8013")
    # int: name and address disclosed, org not; loc: address without name is not enough.
    assert view.postal == [dataclasses.replace(INT, org=None)]
    assert (view.email, view.voice, view.voice_ext, view.fax) == (
        "jdoe@example.com",
        None,
        None,
        None,
    )
    disclose = contact.Disclose(True, frozenset({"name_int", "addr_int", "org_int", "voice"}))
    own.run(A, contact.update, update(disclose=disclose))
    view = own.public("sh8013")
    assert view.postal == [INT]
    assert (view.email, view.voice, view.voice_ext) == (None, "+1.7035555555", "1234")


def test_public_view_with_disclose_flag_0_shows_no_personal_data(own: Registry) -> None:
    own.run(A, contact.update, update(disclose=contact.Disclose(False, frozenset({"email"}))))
    view = own.public("sh8013")
    assert (view.postal, view.email) == ([], None)
    assert own.run(A, contact.info, "sh8013").disclose == contact.Disclose(
        False, frozenset({"email"})
    )


def test_info_shows_linked_while_a_live_domain_uses_the_contact(own: Registry) -> None:
    own.run(B, contact.create, new_contact("other-1"))
    own.run(
        A,
        domain_create.create,
        domain.DomainCreate(name="example.test", auth_info="d-pw-1", registrant="sh8013"),
    )
    own.run(
        A,
        domain_create.create,
        domain.DomainCreate(
            name="second.test", auth_info="d-pw-1", contacts=(("admin", "other-1"),)
        ),
    )
    for handle in ("sh8013", "other-1"):
        assert [s for s, _, _ in own.public(handle).statuses] == [
            st.LINKED,
            st.OK,
        ]
    own.run(A, domain.delete_, "example.test")
    assert [s for s, _, _ in own.public("sh8013").statuses] == [st.OK]


# ---------------------------------------------------------------- update


def test_update_by_another_registrar_is_2201(own: Registry) -> None:
    for cmd in (
        update(email="evil@example.net"),
        update(add_statuses=((st.CLIENT_DELETE_PROHIBITED, None, None),)),
        update(auth_info="stolen-1"),
    ):
        own.fails(Result.AUTHORIZATION_ERROR, B, contact.update, cmd)


def test_update_of_an_unknown_contact_is_2303(own: Registry) -> None:
    own.fails(Result.OBJECT_DOES_NOT_EXIST, A, contact.update, update("nobody"))


def test_update_replaces_fields_and_the_postal_info_of_the_same_type(own: Registry) -> None:
    own.now = NOW + timedelta(days=2)
    new_int = dataclasses.replace(INT, name="Jane Doe", org="Doe LLC", street=())
    own.run(
        A,
        contact.update,
        update(
            postal=(new_int,),
            email="jane@example.com",
            voice="+44.2071234567",
            fax="",
            auth_info="new-pw-2",
        ),
    )
    view = own.run(A, contact.info, "sh8013")
    assert view.postal == [new_int, LOC]
    assert (view.email, view.voice, view.voice_ext, view.fax) == (
        "jane@example.com",
        "+44.2071234567",
        None,
        None,
    )
    assert (view.auth_info, view.updater, view.updated_at) == (
        "",
        "rar-a",
        NOW + timedelta(days=2),
    )
    own.run(B, contact.info, "sh8013", "new-pw-2")  # the new authInfo works, the old does not
    own.fails(Result.INVALID_AUTHORIZATION_INFORMATION, B, contact.info, "sh8013", PW)
    command, name, actor_id, snap = own.history()[-1]
    assert (command, name, actor_id, snap["email"]) == (
        "contact:update",
        "sh8013",
        A.id,
        "jane@example.com",
    )
    assert own.rows(t.outbox)[-1].topic == "contact:update"


def test_update_merges_a_partial_postal_info_as_rfc_5733_example_does(own: Registry) -> None:
    # RFC 5733 section 3.2.5: no <name> (kept), an empty <org/> (removed), a new <addr>.
    change = contact.PostalInfo(
        type="int",
        name="",
        org="",
        street=("124 Example Dr.", "Suite 200"),
        city="Dulles",
        sp="VA",
        pc="20166-6503",
        cc="US",
    )
    own.run(A, contact.update, update(postal=(change,), voice="+1.7034444444"))
    [int_, loc] = own.run(A, contact.info, "sh8013").postal
    assert int_ == dataclasses.replace(INT, org=None, street=("124 Example Dr.", "Suite 200"))
    assert loc == LOC


def test_update_of_a_postal_name_alone_keeps_org_and_address(own: Registry) -> None:
    change = contact.PostalInfo("loc", "Jana Müller", None, (), "", None, None, "")
    own.run(A, contact.update, update(postal=(change,)))
    assert own.run(A, contact.info, "sh8013").postal == [
        INT,
        dataclasses.replace(LOC, name="Jana Müller"),
    ]


def test_update_adding_a_postal_type_needs_a_name_and_an_address(reg: Registry) -> None:
    reg.run(A, contact.create, new_contact())
    no_name = dataclasses.replace(LOC, name="")
    no_addr = contact.PostalInfo("loc", "Jürgen Müller", None, (), "", None, None, "")
    for partial in (no_name, no_addr):
        reg.fails(Result.REQUIRED_PARAMETER_MISSING, A, contact.update, update(postal=(partial,)))
    reg.run(A, contact.update, update(postal=(LOC,)))
    assert reg.run(A, contact.info, "sh8013").postal == [INT, LOC]


def test_update_with_bad_values_fails_like_create(own: Registry) -> None:
    bad_int = dataclasses.replace(INT, city="Zürich")
    own.fails(Result.PARAMETER_VALUE_SYNTAX_ERROR, A, contact.update, update(postal=(bad_int,)))
    own.fails(Result.PARAMETER_VALUE_POLICY_ERROR, A, contact.update, update(postal=(LOC, LOC)))
    bad_type = dataclasses.replace(LOC, type="xyz")
    own.fails(Result.PARAMETER_VALUE_SYNTAX_ERROR, A, contact.update, update(postal=(bad_type,)))
    own.fails(Result.PARAMETER_VALUE_SYNTAX_ERROR, A, contact.update, update(email="nope"))
    own.fails(Result.PARAMETER_VALUE_SYNTAX_ERROR, A, contact.update, update(voice="123"))
    own.fails(Result.REQUIRED_PARAMETER_MISSING, A, contact.update, update(voice_ext="9"))
    own.fails(Result.PARAMETER_VALUE_POLICY_ERROR, A, contact.update, update(auth_info="p" * 256))


def test_an_empty_auth_info_unsets_it_and_then_nothing_matches(own: Registry) -> None:
    own.run(A, contact.update, update(auth_info=""))
    assert own.contact_row("sh8013").auth_info is None
    assert own.run(A, contact.info, "sh8013").auth_info is None
    own.fails(Result.INVALID_AUTHORIZATION_INFORMATION, B, contact.info, "sh8013", PW)
    own.fails(Result.INVALID_AUTHORIZATION_INFORMATION, B, contact.info, "sh8013", "")
    own.fails(
        Result.INVALID_AUTHORIZATION_INFORMATION, B, contact.transfer, transfer("request", "")
    )


def test_update_adds_and_removes_client_statuses(own: Registry) -> None:
    own.run(
        A,
        contact.update,
        update(add_statuses=((st.CLIENT_TRANSFER_PROHIBITED, "en", "no moves"),)),
    )
    assert own.public("sh8013").statuses == [(st.CLIENT_TRANSFER_PROHIBITED, "en", "no moves")]
    own.run(A, contact.update, update(rem_statuses=(st.CLIENT_TRANSFER_PROHIBITED,)))
    assert own.public("sh8013").statuses == [("ok", None, None)]


def test_update_with_a_status_clients_cannot_set_is_2306(own: Registry) -> None:
    for cmd in (
        update(add_statuses=((st.SERVER_DELETE_PROHIBITED, None, None),)),
        update(add_statuses=((st.CLIENT_HOLD, None, None),)),
        update(add_statuses=((st.PENDING_TRANSFER, None, None),)),
        update(rem_statuses=(st.LINKED,)),
    ):
        own.fails(Result.PARAMETER_VALUE_POLICY_ERROR, A, contact.update, cmd)


def test_update_adding_a_present_status_is_2306_removing_an_absent_one_is_a_no_op(
    own: Registry,
) -> None:
    lock = (st.CLIENT_DELETE_PROHIBITED, None, None)
    own.run(A, contact.update, update(rem_statuses=(st.CLIENT_DELETE_PROHIBITED,)))
    own.fails(
        Result.PARAMETER_VALUE_POLICY_ERROR, A, contact.update, update(add_statuses=(lock, lock))
    )
    own.run(A, contact.update, update(add_statuses=(lock,)))
    own.fails(Result.PARAMETER_VALUE_POLICY_ERROR, A, contact.update, update(add_statuses=(lock,)))


def test_update_with_a_status_language_tag_too_long_to_store_is_2306(own: Registry) -> None:
    lock = (st.CLIENT_DELETE_PROHIBITED, "en-" + "x" * 14, "keep")
    own.fails(Result.PARAMETER_VALUE_POLICY_ERROR, A, contact.update, update(add_statuses=(lock,)))


def test_client_update_prohibited_blocks_updates_except_removing_it(own: Registry) -> None:
    own.run(A, contact.update, update(add_statuses=((st.CLIENT_UPDATE_PROHIBITED, None, None),)))
    own.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION, A, contact.update, update(email="x@example.org")
    )
    own.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION,
        A,
        contact.update,
        update(rem_statuses=(st.CLIENT_UPDATE_PROHIBITED,), email="x@example.org"),
    )
    own.run(A, contact.update, update(rem_statuses=(st.CLIENT_UPDATE_PROHIBITED,)))
    own.run(A, contact.update, update(email="x@example.org"))
    assert own.run(A, contact.info, "sh8013").email == "x@example.org"


def test_server_update_prohibited_blocks_even_the_client_unlock(own: Registry) -> None:
    own.run(A, contact.update, update(add_statuses=((st.CLIENT_UPDATE_PROHIBITED, None, None),)))
    own.set_status("sh8013", st.SERVER_UPDATE_PROHIBITED)
    own.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION,
        A,
        contact.update,
        update(rem_statuses=(st.CLIENT_UPDATE_PROHIBITED,)),
    )


# ---------------------------------------------------------------- delete


def test_delete_purges_the_contact_keeping_postal_rows_and_history(own: Registry) -> None:
    own.run(A, contact.update, update(add_statuses=((st.CLIENT_TRANSFER_PROHIBITED, None, None),)))
    row = own.contact_row("sh8013")
    own.now = NOW + timedelta(hours=3)
    own.run(A, contact.delete_, "sh8013")
    [after] = own.rows(t.contacts, t.contacts.c.id == row.id)
    assert (after.deleted_at, after.updater_id) == (NOW + timedelta(hours=3), A.id)
    assert own.rows(t.statuses, t.statuses.c.roid == row.roid) == []
    assert len(own.rows(t.contact_postal, t.contact_postal.c.contact_id == row.id)) == 2
    assert [h[0] for h in own.history()] == ["contact:create", "contact:update", "contact:delete"]
    assert own.history()[-1][3]["deleted_at"] is not None
    own.fails(Result.OBJECT_DOES_NOT_EXIST, A, contact.info, "sh8013")


def test_delete_by_another_registrar_is_2201(own: Registry) -> None:
    own.fails(Result.AUTHORIZATION_ERROR, B, contact.delete_, "sh8013")


def test_delete_of_an_unknown_contact_is_2303(own: Registry) -> None:
    own.fails(Result.OBJECT_DOES_NOT_EXIST, A, contact.delete_, "nobody")


def test_delete_prohibited_by_status_is_2304(own: Registry) -> None:
    own.run(A, contact.update, update(add_statuses=((st.CLIENT_DELETE_PROHIBITED, None, None),)))
    own.fails(Result.OBJECT_STATUS_PROHIBITS_OPERATION, A, contact.delete_, "sh8013")


def test_delete_of_a_contact_a_domain_uses_is_2305(own: Registry) -> None:
    own.run(
        B,
        domain_create.create,
        domain.DomainCreate(name="example.test", auth_info="d-pw-1", registrant="sh8013"),
    )
    err = own.fails(Result.OBJECT_ASSOCIATION_PROHIBITS_OPERATION, A, contact.delete_, "sh8013")
    assert "example.test" in err.reason
    own.run(B, domain.update, domain.DomainUpdate(name="example.test", registrant=""))
    own.run(
        B,
        domain.update,
        domain.DomainUpdate(name="example.test", add_contacts=(("tech", "sh8013"),)),
    )
    own.fails(Result.OBJECT_ASSOCIATION_PROHIBITS_OPERATION, A, contact.delete_, "sh8013")


# ---------------------------------------------------------------- transfer


def test_transfer_request_marks_pending_and_polls_the_sponsor(own: Registry) -> None:
    data = own.run(B, contact.transfer, transfer("request", PW))
    assert (data.object_type, data.name, data.status, data.gaining, data.losing) == (
        "contact",
        "sh8013",
        trn.PENDING,
        "rar-b",
        "rar-a",
    )
    assert data.requested_at == NOW
    assert data.action_at == NOW + timedelta(days=trn.DEFAULT_PENDING_DAYS)
    assert data.expires_at is None
    statuses = [s for s, _, _ in own.run(A, contact.info, "sh8013").statuses]
    assert statuses == [st.PENDING_TRANSFER]
    [(message, payload)] = own.polls(A)
    assert message == "Transfer requested."
    assert payload == trn.poll_payload(data)
    assert own.polls(B) == []
    command, _, actor_id, _ = own.history()[-1]
    assert (command, actor_id) == ("contact:transfer-request", B.id)
    # A request is not published (nothing visible changed yet).
    assert [e.topic for e in own.rows(t.outbox)] == ["contact:create"]


def test_transfer_request_by_the_sponsor_is_2106(own: Registry) -> None:
    own.fails(Result.OBJECT_NOT_ELIGIBLE_FOR_TRANSFER, A, contact.transfer, transfer("request", PW))


def test_transfer_request_without_or_with_wrong_auth_info_is_2202(own: Registry) -> None:
    for auth in (None, "wrong", ""):
        own.fails(
            Result.INVALID_AUTHORIZATION_INFORMATION, B, contact.transfer, transfer("request", auth)
        )


def test_transfer_request_while_one_is_pending_is_2300(own: Registry) -> None:
    own.run(B, contact.transfer, transfer("request", PW))
    own.fails(Result.OBJECT_PENDING_TRANSFER, C, contact.transfer, transfer("request", PW))


def test_transfer_request_prohibited_by_status_is_2304(own: Registry) -> None:
    own.run(A, contact.update, update(add_statuses=((st.CLIENT_TRANSFER_PROHIBITED, None, None),)))
    own.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION, B, contact.transfer, transfer("request", PW)
    )


def test_transfer_of_an_unknown_contact_is_2303(own: Registry) -> None:
    cmd = contact.ContactTransfer(op="request", id="nobody", auth_info=PW)
    own.fails(Result.OBJECT_DOES_NOT_EXIST, B, contact.transfer, cmd)


def test_transfer_approve_moves_the_contact_and_unsets_its_auth_info(own: Registry) -> None:
    own.run(B, contact.transfer, transfer("request", PW))
    own.now = NOW + timedelta(days=1)
    data = own.run(A, contact.transfer, transfer("approve"))
    assert (data.status, data.gaining, data.losing, data.action_at) == (
        trn.CLIENT_APPROVED,
        "rar-b",
        "rar-a",
        NOW + timedelta(days=1),
    )
    view = own.run(B, contact.info, "sh8013")
    assert (view.full, view.sponsor, view.transferred_at) == (
        True,
        "rar-b",
        NOW + timedelta(days=1),
    )
    assert view.auth_info is None  # RFC 9154 section 5.4: unset by the completed transfer
    assert own.contact_row("sh8013").auth_info is None
    assert view.statuses == [("ok", None, None)]
    assert [m for m, _ in own.polls(B)] == ["Transfer approved."]
    assert own.polls(B)[0][1] == trn.poll_payload(data)
    assert [m for m, _ in own.polls(A)] == ["Transfer requested.", "Transfer approved."]
    command, _, actor_id, snap = own.history()[-1]
    assert (command, actor_id, snap["sponsor"]) == (
        "contact:transfer-clientApproved",
        A.id,
        "rar-b",
    )
    assert own.rows(t.outbox)[-1].topic == "contact:transfer-clientApproved"
    # The old sponsor has lost it; the new one can change it.
    own.fails(Result.AUTHORIZATION_ERROR, A, contact.update, update(email="a@example.org"))
    own.run(B, contact.update, update(email="b@example.org"))
    # The old authInfo no longer works.
    own.fails(Result.INVALID_AUTHORIZATION_INFORMATION, C, contact.info, "sh8013", PW)


def test_transfer_approve_or_reject_by_anyone_but_the_sponsor_is_2201(own: Registry) -> None:
    own.run(B, contact.transfer, transfer("request", PW))
    for actor in (B, C):
        for op in ("approve", "reject"):
            own.fails(Result.AUTHORIZATION_ERROR, actor, contact.transfer, transfer(op))


def test_transfer_reject_keeps_the_sponsor_and_polls_the_requester(own: Registry) -> None:
    own.run(B, contact.transfer, transfer("request", PW))
    data = own.run(A, contact.transfer, transfer("reject"))
    assert data.status == trn.CLIENT_REJECTED
    view = own.run(A, contact.info, "sh8013")
    assert (view.sponsor, view.auth_info, view.statuses) == ("rar-a", "", [("ok", None, None)])
    own.run(C, contact.info, "sh8013", PW)  # still set: the rejected transfer changed nothing
    assert [m for m, _ in own.polls(B)] == ["Transfer rejected."]
    assert own.history()[-1][0] == "contact:transfer-clientRejected"


def test_transfer_cancel_by_the_requester_polls_the_sponsor(own: Registry) -> None:
    own.run(B, contact.transfer, transfer("request", PW))
    own.fails(Result.AUTHORIZATION_ERROR, A, contact.transfer, transfer("cancel"))
    own.fails(Result.AUTHORIZATION_ERROR, C, contact.transfer, transfer("cancel"))
    data = own.run(B, contact.transfer, transfer("cancel"))
    assert data.status == trn.CLIENT_CANCELLED
    assert [m for m, _ in own.polls(A)] == ["Transfer requested.", "Transfer cancelled."]
    assert own.history()[-1][0] == "contact:transfer-clientCancelled"
    assert own.run(A, contact.info, "sh8013").sponsor == "rar-a"


def test_transfer_actions_without_a_pending_transfer_are_2301(own: Registry) -> None:
    for actor, op in ((A, "approve"), (A, "reject"), (B, "cancel")):
        own.fails(Result.OBJECT_NOT_PENDING_TRANSFER, actor, contact.transfer, transfer(op))
    own.fails(Result.OBJECT_NOT_PENDING_TRANSFER, A, contact.transfer, transfer("query"))


def test_transfer_query_is_for_the_parties_or_with_auth_info(own: Registry) -> None:
    own.run(B, contact.transfer, transfer("request", PW))
    for actor in (A, B):
        assert own.run(actor, contact.transfer, transfer("query")).status == trn.PENDING
    own.fails(Result.AUTHORIZATION_ERROR, C, contact.transfer, transfer("query"))
    own.fails(
        Result.INVALID_AUTHORIZATION_INFORMATION, C, contact.transfer, transfer("query", "wrong")
    )
    assert own.run(C, contact.transfer, transfer("query", PW)).gaining == "rar-b"


def test_pending_transfer_blocks_update_and_delete_with_2304(own: Registry) -> None:
    own.run(B, contact.transfer, transfer("request", PW))
    own.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION, A, contact.update, update(email="a@example.org")
    )
    own.fails(Result.OBJECT_STATUS_PROHIBITS_OPERATION, A, contact.delete_, "sh8013")
