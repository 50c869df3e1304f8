"""The domain:create fast path (`fastpath.domain_create`) gives what the codec and the general
session path give.

The parser: for every frame here the fast path either declines (None) or returns exactly
the `Frame` that `codec.parse_frame` returns: the RFC 5731 example (declined: it links hosts
and contacts) and the same example without them, generated creates (names of every kind,
each period and unit, odd passwords and clTRIDs, white space and declaration variants),
frames it must leave to the codec (every optional element, extensions, attribute and
content variants the schema allows or refuses), every one-byte substitution, deletion and
insertion of two base frames, and random frames from hypothesis. The session: the same
frames sent to a session with the fast path and to one without, on each backend, get
byte-identical answers apart from the svTRID, and count the same metrics.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from domreg import metrics
from domreg.clock import FixedClock
from domreg.epp import fastpath
from domreg.epp import namespaces as ns
from domreg.epp.session import Registry, Session
from domreg.flows.base import SvTrIds
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support
from tests.test_epp_fastpath import (
    ALL_NAMES,
    CLTRIDS,
    DECL,
    DECLINED_CLTRIDS,
    DECLINED_NAMES,
    DOMAIN_NS,
    EPP,
    INVALID,
    _frames_equal,
    _login_frame,
    _registry_objects,
    _valid,
    one_byte_outcomes,
)

PERIOD_1Y = '<domain:period unit="y">1</domain:period>'


def create_frame(
    name: str,
    pw: str = "auth-X1Y2",
    period: str = PERIOD_1Y,
    cltrid: str | None = "CREATE-1",
    decl: str = DECL,
    ws: str = "",
    more: str = "",
) -> bytes:
    """A domain:create document; `ws` goes between every two tags, `more` after the period."""
    cl = f"<clTRID>{cltrid}</clTRID>{ws}" if cltrid is not None else ""
    auth = f"<domain:authInfo>{ws}<domain:pw>{pw}</domain:pw>{ws}</domain:authInfo>"
    return (
        f"{decl}{ws}{EPP}{ws}<command>{ws}<create>{ws}<domain:create {DOMAIN_NS}>{ws}"
        f"<domain:name>{name}</domain:name>{ws}{period}{ws}{more}{auth}{ws}</domain:create>"
        f"{ws}</create>{ws}{cl}</command>{ws}</epp>{ws}"
    ).encode()


PERIODS = [
    "",
    PERIOD_1Y,
    '<domain:period unit="y">10</domain:period>',
    '<domain:period unit="y">99</domain:period>',
    '<domain:period unit="m">12</domain:period>',
    '<domain:period unit="m">7</domain:period>',
    '<domain:period  unit="y" >2</domain:period>',
]
PASSWORDS = ["a", "2fooBAR", "x" * 255, "{|}~!#$%", "a'b\"c=;:/?@[]^_`", "-"]


def generated() -> list[bytes]:
    """Creates the fast path takes: valid names of every kind, each period and password."""
    names = [n for n in ALL_NAMES if _valid(n)]
    frames = []
    for i, name in enumerate(names):
        frames.append(
            create_frame(
                name,
                PASSWORDS[i % len(PASSWORDS)],
                PERIODS[i % len(PERIODS)],
                CLTRIDS[i % len(CLTRIDS)],
            )
        )
    for decl in ("", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-8"?>'):
        frames.append(create_frame("free.test", decl=decl))
    for ws in (" ", "\n", "\r\n", "\t", "\n  \t "):
        frames.append(create_frame("free.test", ws=ws))
    return frames


def declined() -> list[bytes]:
    """Documents (valid or not) the fast path must leave to the codec."""
    base = create_frame("free.test")
    frames = [create_frame(name) for name in INVALID + DECLINED_NAMES if not _valid(name)]
    frames += [create_frame(name) for name in DECLINED_NAMES]
    frames += [create_frame("free.test", cltrid=c) for c in DECLINED_CLTRIDS]
    frames += [
        create_frame("free.test", pw=pw)
        for pw in ("", "x" * 256, "a b", " ab", "a&amp;b", "é", "a\tb")
    ]
    frames += [
        create_frame("free.test", period=p)
        for p in (
            '<domain:period unit="y">0</domain:period>',
            '<domain:period unit="y">01</domain:period>',
            '<domain:period unit="y">100</domain:period>',
            '<domain:period unit="y"> 1 </domain:period>',
            '<domain:period unit="y">+1</domain:period>',
            '<domain:period unit="d">1</domain:period>',
            '<domain:period unit="Y">1</domain:period>',
            "<domain:period unit='y'>1</domain:period>",
            '<domain:period unit = "y">1</domain:period>',
            "<domain:period>1</domain:period>",
            '<domain:period unit="y" x="1">1</domain:period>',
        )
    ]
    frames += [
        create_frame("free.test", more=m)
        for m in (
            "<domain:ns><domain:hostObj>ns1.example.net</domain:hostObj></domain:ns>",
            "<domain:registrant>jd1234</domain:registrant>",
            '<domain:contact type="admin">sh8013</domain:contact>',
            "<domain:name>b.test</domain:name>",
            PERIOD_1Y,
        )
    ]
    frames += [
        base.replace(b"<domain:pw>", b'<domain:pw roid="SH8013-REP">'),
        base.replace(b"<domain:pw>auth-X1Y2</domain:pw>", b"<domain:pw/>"),
        base.replace(b"<domain:pw>auth-X1Y2</domain:pw>", b"<domain:ext><x/></domain:ext>"),
        base.replace(b"<domain:authInfo><domain:pw>auth-X1Y2</domain:pw></domain:authInfo>", b""),
        base.replace(PERIOD_1Y.encode(), b"").replace(
            b"</domain:authInfo>", b"</domain:authInfo>" + PERIOD_1Y.encode()
        ),
        base.replace(b"</create>", b"</create><extension><x/></extension>"),
        base.replace(
            b"</create>",
            b'</create><extension><launch:create xmlns:launch="urn:ietf:params:xml:ns:'
            b'launch-1.0"><launch:phase>sunrise</launch:phase></launch:create></extension>',
        ),
        base.replace(b"<domain:", b"<d:").replace(b"</domain:", b"</d:"),
        base.replace(ns.DOMAIN.encode(), ns.HOST.encode()),
        base.replace(b"<create>", b"<create><!-- hi -->"),
        base.replace(b"auth-X1Y2", b"<![CDATA[auth-X1Y2]]>"),
        base.replace(b"<create>", b"<renew>").replace(b"</create>", b"</renew>"),
        base[:-1],
        base + b"<epp/>",
        _example(),
    ]
    return frames


def _example() -> bytes:
    return support.reference("epp-examples", "rfc5731", "09-c-domain-create.xml").read_bytes()


def _example_without_links() -> bytes:
    return re.sub(
        rb"\s*<domain:(ns|registrant|contact)[ >].*?</domain:(ns|registrant|contact)>",
        b"",
        _example(),
        flags=re.S,
    )


def test_plain_creates_take_the_fast_path_with_the_codecs_frame() -> None:
    plain = _example_without_links()
    assert _frames_equal(plain)
    frame = fastpath.parse(plain)
    assert frame is not None and frame.cltrid == "ABC-12345"
    cmd = frame.command.data
    assert (cmd.name, cmd.auth_info, cmd.period.value, cmd.period.unit) == (
        "example.com",
        "2fooBAR",
        2,
        "y",
    )
    for data in generated():
        assert _frames_equal(data), data


def test_other_creates_are_left_to_the_codec() -> None:
    for data in declined():
        assert fastpath.parse(data) is None, data


def test_one_byte_variants_of_creates_are_the_codecs_frame_or_left_to_it() -> None:
    for data in (create_frame("Taken.test", cltrid="ABC-1", decl=""), _example_without_links()):
        taken, declined_n = one_byte_outcomes(data)
        assert taken > 100 and declined_n > 1000, (taken, declined_n)


_text = st.text(
    alphabet=st.sampled_from([*"abcXYZ09-._'\"!~;=?&<> \t\n\f", "é", "\u0085"]),
    min_size=0,
    max_size=70,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=_text,
    pw=_text,
    period=st.sampled_from([*PERIODS, '<domain:period unit="y">0</domain:period>']),
    cltrid=st.one_of(st.none(), _text),
    ws=st.sampled_from(["", " ", "\n", "\t", "\r\n", "\f"]),
)
def test_random_creates_are_the_codecs_frame_or_left_to_it(
    name: str, pw: str, period: str, cltrid: str | None, ws: str
) -> None:
    _frames_equal(create_frame(name, pw, period, cltrid, ws=ws))


# ---------------------------------------------------------------- whole sessions

_SVTRID = re.compile(rb"<svTRID>[^<]*</svTRID>")


def _free_names(db: Database) -> None:
    """Delete every live domain but taken.test, so the next session can create them again."""
    with db.write() as conn:
        conn.execute(
            update(t.domains)
            .where(t.domains.c.deleted_at.is_(None), t.domains.c.name != "taken.test")
            .values(deleted_at=datetime(2030, 1, 1))
        )


async def test_sessions_answer_creates_alike_with_and_without_the_fast_path(
    db: Database,
) -> None:
    _registry_objects(db)
    clock = FixedClock(datetime(2030, 6, 1, 12, 0, 0, 300_000))
    fast = Session(Registry(db, clock=clock, svtrids=SvTrIds("FAST")), "127.0.0.1", None)
    general = Session(
        Registry(db, clock=clock, fast_paths=False, svtrids=SvTrIds("GEN")), "127.0.0.1", None
    )
    not_yet = create_frame("free.test")
    before = [_SVTRID.sub(b"", (await s.handle(not_yet))[0]) for s in (fast, general)]
    assert before[0] == before[1] and b'code="2002"' in before[0]  # not logged in
    for session in (fast, general):
        assert b'code="1000"' in (await session.handle(_login_frame("ClientX")))[0]
    taken_create = create_frame("taken.test")
    assert b'code="1000"' in (await general.handle(taken_create))[0]
    frames = [_example_without_links(), *generated(), *declined(), taken_create]
    kinds: Counter[bytes] = Counter()
    took = 0
    for data in frames:
        metrics.COUNTERS.take()
        fast_answer, fast_close = await fast.handle(data)
        fast_counts = metrics.COUNTERS.take()
        _free_names(db)
        general_answer, general_close = await general.handle(data)
        general_counts = metrics.COUNTERS.take()
        _free_names(db)
        assert _SVTRID.sub(b"", fast_answer) == _SVTRID.sub(b"", general_answer), data
        assert fast_close == general_close and fast_counts == general_counts
        took += fastpath.parse(data) is not None
        kinds[fast_answer.split(b'code="')[1][:4]] += 1
        if b'code="1000"' in fast_answer:
            support.assert_schema_valid(fast_answer)
    assert took == 2 + len(generated())  # with taken_create
    # Created, refused by policy (reserved, taken, foreign TLD, period range) and by syntax.
    assert kinds[b"1000"] > 15 and kinds[b"2302"] >= 2 and kinds[b"2001"] > 10, kinds
    assert kinds[b"2306"] >= 1 and kinds[b"2004"] >= 1 and kinds[b"2005"] >= 1, kinds
