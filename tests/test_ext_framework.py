"""The extension framework: one module per extension, announced in the greeting, its schemas
compiled with the core ones, and precise codes for an extension used where it does not belong
(2103 unknown, 2002 known but not extending that command)."""

from __future__ import annotations

import pytest

from domreg.epp import extensions, xsd
from domreg.epp import namespaces as ns
from domreg.epp.client import parse_reply
from domreg.epp.extensions import changepoll, loginsec, secdns
from tests.support import assert_schema_valid, dump, reference


def test_every_module_declares_its_namespace_schemas_commands_and_responses():
    for module in extensions.MODULES:
        assert module.URI.startswith("urn:ietf:params:xml:ns:")
        assert isinstance(module.SCHEMAS, dict)
        assert isinstance(module.COMMANDS, dict)
        assert isinstance(module.RESPONSES, dict)
    assert len(set(extensions.URIS)) == len(extensions.MODULES)
    assert ns.EXTENSIONS == extensions.URIS


def test_extension_schemas_are_compiled_and_are_the_official_ones():
    for uri, name in extensions.SCHEMAS.items():
        assert xsd.SCHEMAS[uri] == name
        shipped = (xsd.XSD_DIR / name).read_bytes()
        assert shipped == reference("epp-xsd", name).read_bytes(), name
    assert xsd.schema() is not None


async def test_greeting_announces_every_extension_module_in_order(connect):
    client = await connect()
    assert_schema_valid(client.greeting)
    greeting = parse_reply(client.greeting)
    assert [e.text for e in greeting.findall(".//epp:svcExtension/epp:extURI")] == [
        secdns.URI,
        "urn:ietf:params:xml:ns:rgp-1.0",
        "urn:ietf:params:xml:ns:epp:fee-1.0",
        loginsec.URI,
        changepoll.URI,
        "urn:ietf:params:xml:ns:epp:secure-authinfo-transfer-1.0",
        "urn:ietf:params:xml:ns:epp:unhandled-namespaces-1.0",
        "urn:ietf:params:xml:ns:allocationToken-1.0",
        "urn:ietf:params:xml:ns:launch-1.0",
    ]


D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
CHECK = f"<check><domain:check {D}><domain:name>a.test</domain:name></domain:check></check>"
LOGINSEC = (
    f'<loginSec:loginSec xmlns:loginSec="{loginsec.URI}"><loginSec:userAgent>'
    "<loginSec:app>x 1</loginSec:app></loginSec:userAgent></loginSec:loginSec>"
)
CHANGE = (
    f'<changePoll:changeData xmlns:changePoll="{changepoll.URI}">'
    "<changePoll:operation>update</changePoll:operation>"
    "<changePoll:date>2020-01-01T00:00:00.0Z</changePoll:date>"
    "<changePoll:svTRID>ABC-1</changePoll:svTRID><changePoll:who>me</changePoll:who>"
    "</changePoll:changeData>"
)


@pytest.mark.parametrize(
    ("body", "extension", "code", "reason"),
    [
        (CHECK, '<x:y xmlns:x="urn:example:ext"/>', 2103, "not implemented"),
        (CHECK, LOGINSEC, 2002, "does not extend <domain:check>"),
        ('<poll op="req"/>', CHANGE, 2002, "does not extend <poll>"),
        ("<logout/>", LOGINSEC, 2002, "does not extend <logout>"),
    ],
)
async def test_extension_in_a_command_it_does_not_extend_gets_a_precise_code(
    connect, db, body, extension, code, reason
):
    client = await connect("ClientX")
    before = dump(db)
    reply = await client.command(body, extension=extension)
    assert_schema_valid(reply.raw)
    assert reply.code == code and reason in reply.msg, reply.raw.decode()
    assert reply.findtext(".//epp:extValue/epp:reason")  # the element is named in extValue
    assert dump(db) == before
    assert (await client.domain_check("still.test")).code == 1000  # the session survives
