"""Fuzzing the EPP server: 100,000 malformed frames and documents over real TLS sessions.

Frames come from a seeded mutation engine over a corpus of valid commands (every RFC client
example plus domreg's own), with hostile documents mixed in (billion laughs, external
entities, deep nesting, huge attributes, binary garbage). The server must answer every frame
with a schema-valid EPP response or close the connection cleanly, keep serving, and change
the database only through commands it answered with success.
"""

from __future__ import annotations

import asyncio
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from domreg.epp import codec
from domreg.epp.client import EppClient, parse_reply
from domreg.store import schema as t
from tests.support import REFERENCE, dump, official_schema

FRAMES = 100_000
CONNECTIONS = 8

OWN_CORPUS = [
    b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><hello/></epp>',
    b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><command><check><domain:check '
    b'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name>a.test</domain:name>'
    b"</domain:check></check><clTRID>ABC-1</clTRID></command></epp>",
    b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><command><create><domain:create '
    b'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name>fuzz.test</domain:name>'
    b'<domain:period unit="y">1</domain:period><domain:authInfo><domain:pw>abcdefgh</domain:pw>'
    b"</domain:authInfo></domain:create></create><clTRID>ABC-2</clTRID></command></epp>",
    b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><command><poll op="req"/><clTRID>ABC-3</clTRID>'
    b"</command></epp>",
]
HOSTILE = [
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">&d;</epp>',
    b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/shadow">]><epp>&x;</epp>',
    b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "http://127.0.0.1:1/x">]><epp>&x;</epp>',
    b'<?xml version="1.0"?><!DOCTYPE e SYSTEM "http://127.0.0.1:1/e.dtd"><epp/>',
    b"<epp>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</epp>",
    b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0" a="' + b"x" * 60000 + b'"/>',
    b'<?xml version="1.0" encoding="UTF-16"?><epp/>',
    b"\xef\xbb\xbf\x00\x00\xff" * 100,
    b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><hello/></epp><epp/>',
    b'<?xml-stylesheet href="file:///etc/passwd"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><hello/></epp>',
    b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>',
]


def corpus() -> list[bytes]:
    frames = list(OWN_CORPUS)
    examples = REFERENCE / "epp-examples"
    if examples.exists():
        frames.extend(p.read_bytes() for p in sorted(examples.glob("rfc573*/*-c-*.xml")))
    return frames


TOKENS = [
    b"<",
    b">",
    b"/>",
    b"</",
    b'"',
    b"&",
    b"&amp;",
    b"&#0;",
    b"]]>",
    b"<![CDATA[",
    b"xmlns=",
    b"\x00",
    b"\xff",
    b"<domain:name>",
    b"</command>",
    b"<!--",
    b"-->",
    b"<?",
    b"?>",
    b"\xc3\x28",
    b'op="x"',
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(8)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip a byte
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:  # truncate
            del buf[pos:]
        elif op == 2:  # insert a token
            buf[pos:pos] = rng.choice(TOKENS)
        elif op == 3 and buf:  # delete a span
            del buf[pos : pos + rng.randint(1, 40)]
        elif op == 4:  # duplicate a span
            span = bytes(buf[pos : pos + rng.randint(1, 200)])
            buf[pos:pos] = span * rng.randint(1, 5)
        elif op == 5:  # random bytes
            buf[pos:pos] = rng.randbytes(rng.randint(1, 30))
        elif op == 6:  # swap two spans
            other = rng.randrange(len(buf) + 1)
            a, b = sorted((pos, other))
            buf[a:b] = buf[a:b][::-1]
        else:  # splice with a hostile document
            buf[pos:pos] = rng.choice(HOSTILE)[: rng.randint(10, 300)]
    if not buf:
        buf = bytearray(b"<")
    return bytes(buf[:60000])


async def _fuzz_connection(port: int, tls, seed: int, count: int, stats: dict[str, int]) -> None:
    rng = random.Random(seed)
    frames = corpus()
    client = await EppClient.connect("127.0.0.1", port, tls)
    assert (await client.login("ClientX", "foo-BAR2")).code == 1000
    schema = official_schema()
    from lxml import etree

    sent = 0
    while sent < count:
        data = rng.choice(HOSTILE) if rng.random() < 0.02 else mutate(rng, rng.choice(frames))
        raw = await client.send_raw(data)
        sent += 1
        doc = etree.fromstring(raw)
        assert schema.validate(doc), (data, raw, schema.error_log.last_error)
        reply = parse_reply(raw)
        assert b"Traceback" not in raw
        stats[str(reply.code)] = stats.get(str(reply.code), 0) + 1
        if reply.code == 1500 or reply.code >= 2500:  # the session ended: start a new one
            await client.close()
            client = await EppClient.connect("127.0.0.1", port, tls)
            assert (await client.login("ClientX", "foo-BAR2")).code == 1000
    await client.close()


async def test_server_survives_100k_malformed_frames_and_changes_nothing_it_did_not_confirm(
    epp_server, client_tls, db, connect
):
    before = dump(db)
    stats: dict[str, int] = {}
    per = FRAMES // CONNECTIONS
    await asyncio.gather(
        *(
            _fuzz_connection(epp_server.ports[0], client_tls, seed, per, stats)
            for seed in range(CONNECTIONS)
        )
    )
    assert sum(stats.values()) == per * CONNECTIONS >= FRAMES
    # Mostly errors; any mutation that happened to be a valid command was answered properly.
    assert sum(v for k, v in stats.items() if k.startswith("2")) > FRAMES * 0.8
    with db.read() as conn:
        transforms = conn.execute(select(func.count()).select_from(t.history)).scalar_one()
    if transforms == 0:
        assert dump(db) == before
    # The server still serves normally.
    client = await connect("ClientX")
    assert (await client.domain_check("after-fuzz.test")).code == 1000


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_codec_rejects_arbitrary_bytes_only_with_epp_errors(data):
    try:
        codec.parse_frame(data)
    except codec.FrameError as err:
        assert 2000 <= err.code < 2500


xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=50)


@st.composite
def documents(draw) -> bytes:
    tags = [
        "epp",
        "command",
        "check",
        "domain:check",
        "domain:name",
        "hello",
        "login",
        "clID",
        "pw",
        "info",
    ]
    depth = draw(st.integers(1, 6))
    body = draw(xml_text).replace("<", "&lt;").replace("&", "&amp;")
    for _ in range(depth):
        tag = draw(st.sampled_from(tags))
        body = f"<{tag}>{body}</{tag}>"
    ns = draw(st.sampled_from(["urn:ietf:params:xml:ns:epp-1.0", "urn:x", ""]))
    return (
        f'<epp xmlns="{ns}" xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">{body}</epp>'.encode()
    )


@settings(max_examples=500, deadline=None)
@given(documents())
def test_codec_handles_well_formed_nonsense_with_epp_errors(data):
    try:
        codec.parse_frame(data)
    except codec.FrameError as err:
        assert 2000 <= err.code < 2500
