"""The domain:check and domain:info fast paths (`epp/fastpath.py`) give what the codec and
the general session path give.

Two levels. The parser: for every frame here, `fastpath.domain_check` either declines
(None) or returns exactly the `Frame` that `codec.parse_frame` returns; the frames are the
RFC 5731 examples, generated checks (1..N names; registered, reserved, invalid, foreign-TLD,
IDN names; odd clTRIDs; white space and declaration variants) and infos (each `hosts`,
valid and invalid names, with authInfo), every one-byte substitution,
deletion and insertion of a few base frames, malformed documents, and random frames from
hypothesis. The session: the same frames sent to a session with the fast path and one
without, on each backend, get byte-identical answers (apart from the svTRID), count the
same metrics, and honour login state and the objURIs announced at login alike.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from domreg import metrics
from domreg.clock import Clock
from domreg.epp import codec, fastpath
from domreg.epp import namespaces as ns
from domreg.epp.session import Registry, Session
from domreg.flows.inlinechecks import InlineChecks
from domreg.flows.loopreads import LoopReads
from domreg.model.names import NameError_, parse_name
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support

DECL = '<?xml version="1.0" encoding="UTF-8" standalone="no"?>'
EPP = f'<epp xmlns="{ns.EPP}">'
DOMAIN_NS = f'xmlns:domain="{ns.DOMAIN}"'


def check_frame(
    names: list[str], cltrid: str | None = "ABC-1", decl: str = DECL, ws: str = ""
) -> bytes:
    """A domain:check document; `ws` goes between every two tags."""
    body = ws.join(f"<domain:name>{n}</domain:name>" for n in names)
    cl = f"<clTRID>{cltrid}</clTRID>{ws}" if cltrid is not None else ""
    return (
        f"{decl}{ws}{EPP}{ws}<command>{ws}<check>{ws}<domain:check {DOMAIN_NS}>{ws}{body}{ws}"
        f"</domain:check>{ws}</check>{ws}{cl}</command>{ws}</epp>{ws}"
    ).encode()


def info_frame(
    name: str, hosts: str | None = None, cltrid: str | None = "INFO-1", ws: str = "", auth: str = ""
) -> bytes:
    attr = f' hosts="{hosts}"' if hosts is not None else ""
    cl = f"<clTRID>{cltrid}</clTRID>{ws}" if cltrid is not None else ""
    return (
        f"{DECL}{ws}{EPP}{ws}<command>{ws}<info>{ws}<domain:info {DOMAIN_NS}>{ws}"
        f"<domain:name{attr}>{name}</domain:name>{auth}{ws}</domain:info>{ws}</info>{ws}{cl}"
        f"</command>{ws}</epp>"
    ).encode()


REGISTERED = ["taken.test", "TAKEN.test"]
RESERVED = ["kept.test", "kept.com"]
AVAILABLE = ["free.test", "a.com", "x-y.net", "0.test", "a" * 63 + ".test"]
INVALID = [
    "-bad.test",
    "bad-.test",
    "a..test",
    "x_y.test",
    ".test",
    "test",
    "ab--cd.test",
    "*.test",
    "%41.test",
    "a'b.test",
    'a"b.test',
    "a;b=c?.test",
    "{}|~!.test",
    "xn--.test",
    "xn--zz.test",
    "a.b.test",
    ".".join(["a" * 63] * 4)[:255],
]
FOREIGN = ["x.org", "x.example", "a.b.c.org"]
IDN = ["xn--bcher-kva.test", "XN--BCHER-KVA.test", "xn--nxasmq6b.com"]
#: Names the fast path declines: non-ASCII (U-labels), too long, or text needing escapes.
DECLINED_NAMES = ["bücher.test", "a" * 256, "a&amp;b.test", "a&#x41;.test", "a b.test", ""]
CLTRIDS = [None, "abc", "ABC-12345", "x" * 64, "a'b\"c", "{|}~!#$%", "=;:/?@[]^_`", "1-2-3"]
DECLINED_CLTRIDS = ["ab", "x" * 65, "a b", "a&amp;b", " abc", "abc\t"]

ALL_NAMES = REGISTERED + RESERVED + AVAILABLE + INVALID + FOREIGN + IDN


def generated() -> list[bytes]:
    """Checks of 1..N names of every kind, with each clTRID and layout the fast path takes."""
    frames = []
    for i, name in enumerate(ALL_NAMES):
        frames.append(check_frame([name], CLTRIDS[i % len(CLTRIDS)]))
    for n in (2, 3, 5, 8, 20):
        names = [ALL_NAMES[(n * 7 + k * 5) % len(ALL_NAMES)] for k in range(n)]
        frames.append(check_frame(names, f"MULTI-{n}"))
    frames.append(check_frame(ALL_NAMES, "EVERY-KIND"))
    frames.append(check_frame(["free.test", "free.test"], "TWICE"))
    for cltrid in CLTRIDS:
        frames.append(check_frame(["free.test"], cltrid))
    for decl in (
        "",
        '<?xml version="1.0"?>',
        '<?xml version="1.0" encoding="utf-8"?>',
        '<?xml version="1.0" standalone="yes"?>',
    ):
        frames.append(check_frame(["free.test", "taken.test"], "DECL", decl=decl))
    for ws in (" ", "\n", "\r\n", "\t", "\n  \t "):
        frames.append(check_frame(["free.test", "kept.test"], "WS-1", ws=ws))
    for i, name in enumerate(REGISTERED + AVAILABLE + FOREIGN + IDN + ["Taken.TEST", "x.y.test"]):
        hosts = (None, "all", "del", "sub", "none")[i % 5]
        frames.append(info_frame(name, hosts, CLTRIDS[i % len(CLTRIDS)], ws=" \n"[i % 2]))
    frames += [info_frame(name) for name in INVALID if _valid(name)]  # valid, yet nobody's
    return frames


def _valid(name: str) -> bool:
    try:
        parse_name(name)
    except NameError_:
        return False
    return True


def declined() -> list[bytes]:
    """Valid or invalid documents the fast path must leave to the codec."""
    frames = [check_frame([name], "DECLINED") for name in DECLINED_NAMES]
    frames += [check_frame(["free.test"], cltrid) for cltrid in DECLINED_CLTRIDS]
    frames += [
        check_frame(["free.test"], decl="\n" + DECL),  # a declaration after white space
        check_frame(["free.test"], decl="\ufeff" + DECL),  # a byte order mark
        check_frame(["free.test"], decl="<?xml version='1.0'?>"),
        check_frame(["free.test"], decl='<?xml version="1.1"?>'),
        check_frame(["free.test"], decl='<?xml version="1.0" encoding="ISO-8859-1"?>'),
        check_frame(["free.test"], ws="\f"),
        check_frame(["free.test"], ws="\v"),
        check_frame([]),  # no name: a schema violation
        check_frame(["free.test"]).replace(b"<domain:", b"<d:").replace(b"</domain:", b"</d:"),
        check_frame(["free.test"]).replace(b"xmlns:domain", b"xmlns:d"),
        check_frame(["free.test"]).replace(ns.DOMAIN.encode(), ns.HOST.encode()),
        check_frame(["free.test"]).replace(b"<check>", b"<check><!-- hi -->"),
        check_frame(["free.test"]).replace(b"<command>", b"<command><?pi x?>"),
        check_frame(["free.test"]).replace(b"free.test", b"<![CDATA[free.test]]>"),
        check_frame(["free.test"]).replace(
            b"</check>",
            b'</check><extension><fee:check xmlns:fee="urn:ietf:params:xml:ns:epp:'
            b'fee-1.0"><fee:currency>USD</fee:currency></fee:check></extension>',
        ),
        check_frame(["free.test"]).replace(b"<clTRID>ABC-1</clTRID>", b"")
        + b"<clTRID>ABC-1</clTRID>",
        check_frame(["free.test"]).replace(b"</command>", b"<clTRID>x</clTRID></command>"),
        check_frame(["free.test"]).replace(b"<epp ", b'<epp xmlns:xsi="x" '),
        check_frame(["free.test"]).replace(b"<domain:name>", b'<domain:name hosts="all">'),
        check_frame(["free.test"]).replace(b"<check>", b"<info>").replace(b"</check>", b"</info>"),
        check_frame(["free.test"]) + b"<epp/>",
        check_frame(["free.test"])[:-1],
        b'<!DOCTYPE epp [<!ENTITY n "free.test">]>' + check_frame(["&n;"], decl=""),
        b"",
        b"\x00" * 40,
        info_frame("taken.test", "foo"),
        info_frame("taken.test", "ALL"),
        info_frame("taken.test", hosts="all'"),
        info_frame("taken.test").replace(b"<domain:name>", b"<domain:name hosts='all'>"),
        info_frame(
            "taken.test", auth="<domain:authInfo><domain:pw>x-Y2z</domain:pw></domain:authInfo>"
        ),
        info_frame("taken.test").replace(
            b"</domain:name>", b"</domain:name><domain:name>b.test</domain:name>"
        ),
    ]
    # Names the codec refuses with 2005 (it words the error with the element).
    frames += [info_frame(name) for name in INVALID + DECLINED_NAMES if not _valid(name)]
    return frames


def _frames_equal(data: bytes) -> bool:
    """Whether the fast path took `data`; if it did, it gave the codec's Frame."""
    fast = fastpath.parse(data)
    if fast is None:
        return False
    assert fast == codec.parse_frame(data), data  # a FrameError here fails the test too
    return True


def _example(name: str = "01-c-domain-check.xml") -> bytes:
    return support.reference("epp-examples", "rfc5731", name).read_bytes()


def test_the_rfc_example_and_generated_checks_take_the_fast_path_with_the_codecs_frame() -> None:
    example = _example()
    assert _frames_equal(example)
    assert fastpath.domain_check(example) == codec.Frame(
        codec.ObjectCmd("check", "domain", ["example.com", "example.net", "example.org"]),
        "ABC-12345",
    )
    for data in generated():
        assert _frames_equal(data), data
    info = _example("03-c-domain-info.xml")
    assert fastpath.parse(info) == codec.Frame(
        codec.ObjectCmd(
            "info",
            "domain",
            {"name": "example.com", "hosts": "all", "auth_info": None, "auth_roid": None},
        ),
        "ABC-12345",
    )
    assert _frames_equal(info)
    assert fastpath.parse(_example("04-c-domain-info-authinfo.xml")) is None


def test_other_documents_are_left_to_the_codec() -> None:
    for data in declined():
        assert fastpath.parse(data) is None, data


BYTES = sorted(set(b" \t\r\n\f\v\x00<>&\"'=/:?!-.;#[]AZaz09xmnlsdecp\x7f\x80\xc3\xff"))


def one_byte_variants(data: bytes) -> Iterator[bytes]:
    """Every insertion of one of `BYTES`, every deletion and every substitution in `data`."""
    for i in range(len(data) + 1):
        yield from (data[:i] + bytes([b]) + data[i:] for b in BYTES)
        if i < len(data):
            yield data[:i] + data[i + 1 :]
            yield from (data[:i] + bytes([b]) + data[i + 1 :] for b in BYTES if b != data[i])


def one_byte_outcomes(data: bytes) -> tuple[int, int]:
    """Of `data`'s one-byte variants, how many the fast path takes (and gives the codec's
    frame, `_frames_equal` asserts it) and how many it leaves to the codec."""
    taken = sum(_frames_equal(variant) for variant in one_byte_variants(data))
    return taken, sum(1 for _ in one_byte_variants(data)) - taken


@pytest.mark.parametrize("base", ["example", "compact", "two names, no clTRID", "info"])
def test_one_byte_variants_are_either_the_codecs_frame_or_left_to_it(base: str) -> None:
    data = {
        "example": _example,
        "compact": lambda: check_frame(["taken.test"], "ABC-1", decl=""),
        "two names, no clTRID": lambda: check_frame(["a.test", "b.com"], None, ws=" "),
        "info": lambda: info_frame("taken.test", "del", "ABC-1"),
    }[base]()
    taken, declined_n = one_byte_outcomes(data)
    # Both outcomes occur: white space and name or clTRID characters vary, markup does not.
    assert taken > 100 and declined_n > 1000, (taken, declined_n)


_text = st.text(
    alphabet=st.sampled_from([*"abcXYZ09-._'\"!~;=?&<> \t\n\f", "é", "ü", "\u0085"]),
    min_size=0,
    max_size=70,
)
_ws = st.sampled_from(["", " ", "\n", "\t", "\r\n", "\f", "  \n"])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(_text, min_size=0, max_size=5),
    cltrid=st.one_of(st.none(), _text),
    decl=st.sampled_from(["", DECL, '<?xml version="1.0"?>', "<?xml version='1.0'?>", " "]),
    ws=_ws,
)
def test_random_checks_and_infos_are_either_the_codecs_frame_or_left_to_it(
    names: list[str], cltrid: str | None, decl: str, ws: str
) -> None:
    _frames_equal(check_frame(names, cltrid, decl=decl, ws=ws))
    for name in names[:1]:
        _frames_equal(info_frame(name, cltrid=cltrid, ws=ws))
        _frames_equal(info_frame(name, hosts=cltrid, cltrid=cltrid, ws=ws))


# ---------------------------------------------------------------- whole sessions


def _login_frame(clid: str, objects: tuple[str, ...] = ns.OBJECTS) -> bytes:
    objs = "".join(f"<objURI>{o}</objURI>" for o in objects)
    return (
        f"{DECL}{EPP}<command><login><clID>{clid}</clID><pw>{support.PASSWORDS[clid]}</pw>"
        "<options><version>1.0</version><lang>en</lang></options>"
        f"<svcs>{objs}</svcs></login><clTRID>LOGIN-1</clTRID></command></epp>"
    ).encode()


LOGOUT = f"{EPP}<command><logout/><clTRID>BYE-1</clTRID></command></epp>".encode()
_SVTRID = re.compile(rb"<svTRID>[^<]*</svTRID>")


class Pair:
    """The same registrar in two sessions: one with the fast paths, one without. The fast
    one is answered as `domreg serve` answers: on SQLite by `handle_now` with the inline
    checks, on PostgreSQL by `handle` with the loop reads (plain checks in
    `Session._check_now` and `_check_loop`); the other by `handle`, the codec and the flows."""

    def __init__(self, db: Database) -> None:
        clock = Clock()
        self.checks = InlineChecks(db) if db.is_sqlite else None
        self.reads = None if db.is_sqlite else LoopReads(db)
        metrics.load_tlds(db)  # commands count in the TLDs of their names, on both paths
        fast = Registry(db, clock=clock, inline_checks=self.checks, loop_reads=self.reads)
        self.fast = Session(fast, "127.0.0.1", None)
        self.general = Session(Registry(db, clock=clock, fast_paths=False), "127.0.0.1", None)
        self.counts: Counter[tuple[int, str, str, str]] = Counter()  # the last frame's

    async def aclose(self) -> None:
        if self.reads is not None:
            await self.reads.aclose()

    async def send(self, data: bytes) -> bytes:
        """Send `data` to both; their answers (svTRID aside) and metrics counts must agree."""
        metrics.COUNTERS.take()
        if self.checks is not None:
            fast, fast_close = self.fast.handle_now(data)
        else:
            fast, fast_close = await self.fast.handle(data)
        fast_counts = metrics.COUNTERS.take()
        general, general_close = await self.general.handle(data)
        general_counts = metrics.COUNTERS.take()
        self.counts = fast_counts
        assert _SVTRID.sub(b"", fast) == _SVTRID.sub(b"", general), data
        assert fast_close == general_close
        # One command: counted once, or once in each TLD of its names (a check of several).
        assert fast_counts == general_counts, (fast_counts, general_counts)
        assert len({key[:3] for key in fast_counts}) <= 1, fast_counts
        assert all(n == 1 for n in fast_counts.values()), fast_counts
        assert (self.fast.actor is None) == (self.general.actor is None)
        return fast


def _registry_objects(db: Database) -> None:
    """taken.test registered; the label `kept` reserved under test and com."""
    with db.write() as conn:
        tlds = {name: id_ for name, id_ in conn.execute(select(t.tlds.c.name, t.tlds.c.id))}
        for tld in ("test", "com"):
            conn.execute(
                insert(t.reserved_names).values(tld_id=tlds[tld], label="kept", reason="ours")
            )


async def test_sessions_answer_checks_and_infos_alike_with_and_without_the_fast_paths(
    db: Database,
) -> None:
    _registry_objects(db)
    pair = Pair(db)
    assert b'code="1000"' in await pair.send(_login_frame("ClientX"))
    create = (
        f"{EPP}<command><create><domain:create {DOMAIN_NS}><domain:name>taken.test</domain:name>"
        "<domain:authInfo><domain:pw>auth-X1Y2</domain:pw></domain:authInfo></domain:create>"
        "</create><clTRID>CREATE-1</clTRID></command></epp>"
    ).encode()
    assert b'code="1000"' in (await pair.general.handle(create))[0]
    frames = [_example(), _example("03-c-domain-info.xml"), *generated(), *declined()]
    taken = 0
    kinds: Counter[bytes] = Counter()
    counted: Counter[tuple[int, str, str, str]] = Counter()
    for data in frames:
        answer = await pair.send(data)
        counted += pair.counts
        taken += fastpath.parse(data) is not None
        kinds[answer.split(b'code="')[1][:4]] += 1
        if b'code="1000"' in answer:
            support.assert_schema_valid(answer)
    assert taken == 2 + len(generated())
    plain = sum(b"<check" in f for f in frames if fastpath.parse(f))
    if pair.checks is not None:  # SQLite: the plain checks took `Session._check_now`
        assert pair.checks.snapshots >= plain
    if pair.reads is not None:  # PostgreSQL: `Session._check_loop` (no statement without a
        # valid name)
        assert pair.reads._check.requests >= sum(
            any(_valid(n) for n in names)
            for names, _ in filter(None, map(fastpath.check_names, frames))
        )
    assert kinds[b"1000"] > 40 and kinds[b"2001"] > 10, kinds
    # Each frame was counted alike on both paths (`Pair.send`); every fast one as a check.
    fast_kinds = ("domain:check", "domain:info")
    assert sum(n for (_, _, name, _), n in counted.items() if name in fast_kinds) >= taken
    # A check counts once in each TLD of its names; a name under none adds no count beside
    # them (`metrics.epp_command`), and alone counts under none: alike on both paths.
    for names, tlds in (
        (["a.test", "b.com", "c.test", "d.com", "x.org"], {"test", "com"}),
        (["x.org", "y.org"], {""}),
        (["xn--bcher-kva.test", "NS1.A.NET"], {"test", "net"}),
    ):
        await pair.send(check_frame(names))
        assert {tld for (_, _, _, tld) in pair.counts} == tlds, names
    answer = await pair.send(check_frame(["taken.test", "kept.test", "free.test", "x.org"]))
    assert {tld for (_, _, _, tld) in pair.counts} == {"test"}
    # The sponsor's full view and another registrar's partial one, alike on both paths.
    assert b"<domain:crDate>" in await pair.send(info_frame("TAKEN.test"))
    other = Pair(db)
    assert b'code="1000"' in await other.send(_login_frame("ClientY"))
    for hosts in (None, "all", "none"):
        partial = await other.send(info_frame("taken.test", hosts))
        assert b"<domain:clID>ClientX</domain:clID>" in partial and b"crDate" not in partial
    for expected in (
        b'<domain:name avail="0">taken.test</domain:name><domain:reason>In use',
        b'<domain:name avail="0">kept.test</domain:name><domain:reason>Reserved',
        b'<domain:name avail="1">free.test</domain:name>',
        b'<domain:name avail="0">x.org</domain:name><domain:reason>Not under a TLD',
    ):
        assert expected in answer
    await pair.aclose()
    await other.aclose()


async def test_login_state_and_announced_objects_hold_on_the_fast_paths(db: Database) -> None:
    pair = Pair(db)
    check = check_frame(["free.test"], "STATE-1")
    assert b'code="2002"' in await pair.send(check)  # not logged in
    assert b'code="2002"' in await pair.send(info_frame("free.test"))
    assert b'code="1000"' in await pair.send(_login_frame("ClientY", (ns.HOST, ns.CONTACT)))
    assert b'code="2307"' in await pair.send(check)  # domain-1.0 was not announced
    assert b'code="2307"' in await pair.send(info_frame("free.test"))
    assert b'code="1500"' in await pair.send(LOGOUT)
    assert b'code="2002"' in await pair.send(check)
    assert b'code="1000"' in await pair.send(_login_frame("ClientY"))
    assert b'<domain:name avail="1">free.test</domain:name>' in await pair.send(check)
    await pair.aclose()
