#!/usr/bin/env python3
"""Full EPP session against an EPP-over-TLS server through the PyPI client `epptools`
(pip install epptools==1.1.2). Same flow as net_epp_session.pl; see README.md beside this file.

usage: pyclient_session.py [--ca-file F] [--no-verify-name] [--cert F --key F] [--tld T]
                           [--verbose] HOST PORT CLID PASSWORD CLID2 PASSWORD2

  --ca-file F       verify the server certificate against F (PEM) and its name against HOST
                    (SAN DNS or IP). Without it, verification is off (verify_peer=False).
  --no-verify-name  with --ca-file: check the chain but not the name (verify_peer_name=False)
  --cert/--key      present a client certificate (mutual TLS)
  --pin-services    log in with exactly domain/contact/host objURIs and no extURIs instead of
                    mirroring the greeting (epptools announces secDNS-1.1, rgp-1.0 and
                    epp:fee-1.0 when the greeting advertises no extURI at all)
  --verbose         log every frame (passwords masked by the library)

Flow: conn1(CLID) greeting, login, contact create, host create, domain create, domain info,
domain update (x2), domain renew; conn2(CLID2) greeting, login, transfer request; conn1 transfer
approve; conn2 domain info, domain delete; logout both. Prints each result code, exits 1 on the
first unexpected code or error, 0 when everything passed.
"""

import argparse
import logging
import os
import sys
import time

from epptools import Client, Config
from epptools.exceptions import EppException

DOMAIN_NS = "urn:ietf:params:xml:ns:domain-1.0"
CONTACT_NS = "urn:ietf:params:xml:ns:contact-1.0"
HOST_NS = "urn:ietf:params:xml:ns:host-1.0"


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def step(label, what, call, *ok):
    """Run one library call, print its result code, stop unless the code is in `ok`."""
    try:
        r = call()
    except EppException as exc:
        fail(f"{label} {what}: {type(exc).__name__}: {exc}")
    print(
        f"{label:<8} {what:<14} {r.code()} {r.message() or ''} [svTRID={r.sv_trid()} clTRID={r.cl_trid()}]"
    )
    if r.code() not in ok:
        expected = "/".join(map(str, ok))
        fail(f"{label} {what}: unexpected result code {r.code()} (expected {expected})")
    return r


def session(args, label, clid, password):
    cfg = Config(
        host=args.host,
        port=args.port,
        clid=clid,
        password=password,  # epptools refuses < 6 or > 16 chars (RFC 5730 pwType)
        connect_timeout=10.0,
        read_timeout=20.0,
        ca_file=args.ca_file,
        verify_peer=bool(args.ca_file),
        verify_peer_name=bool(args.ca_file) and not args.no_verify_name,
        client_cert=args.cert,
        client_key=args.key,
        cltrid_prefix="PY-" + label,
        # None = login mirrors the greeting's <svcMenu> (the library default)
        obj_uris=[DOMAIN_NS, CONTACT_NS, HOST_NS] if args.pin_services else None,
        ext_uris=[] if args.pin_services else None,
    )
    logger = None
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="  %(message)s")
        logger = logging.getLogger("epp." + label)
    client = Client(cfg, logger=logger).throw_on_failure(False)
    try:
        g = client.connect()
    except EppException as exc:
        fail(f"{label} connect: {type(exc).__name__}: {exc}")
    objs = g.service_obj_uris()
    short = ",".join(u.rsplit(":", 1)[-1] for u in objs)
    exts = ",".join(g.service_ext_uris()) or "-"
    print(f"{label:<8} greeting       svID={g.value('svID')} objURIs={short} extURIs={exts}")
    for need in (DOMAIN_NS, CONTACT_NS, HOST_NS):
        if need not in objs:
            fail(f"{label} greeting lacks objURI {need}")
    step(label, "login", client.login, 1000)  # login() raises on anything but 1000
    return client


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ca-file")
    ap.add_argument("--no-verify-name", action="store_true")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--pin-services", action="store_true")
    ap.add_argument("--tld", default="test")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("clid")
    ap.add_argument("password")
    ap.add_argument("clid2")
    ap.add_argument("password2")
    args = ap.parse_args()

    tag = f"{int(time.time()) % 0xFFFFFF:x}{os.getpid() % 0xFFFF:04x}"
    domain = f"py-{tag}.{args.tld}"
    contact = f"yc{tag}"  # clIDType: 3..16 chars
    ns = f"ns1.py-{tag}.example.net"  # external host: no addresses
    auth1, auth2 = "Auth-1-" + tag, "Auth-2-" + tag
    print(f"domain={domain} contact={contact} host={ns}")

    c1 = session(args, "reg1", args.clid, args.password)
    step(
        "reg1",
        "contact:create",
        lambda: c1.contact.create(
            contact,
            name="Python Interop",
            org="epptools test",
            street=["1 Test Street"],
            city="Testville",
            pc="12345",
            cc="DE",
            voice="+49.3012345678",
            email="py-interop@example.net",
            auth_info=auth1,
        ),
        1000,
    )
    step("reg1", "host:create", lambda: c1.host.create(ns), 1000)
    r = step(
        "reg1",
        "domain:create",
        lambda: c1.domain.create(
            domain,
            years=1,
            registrant=contact,
            contacts={"admin": contact, "tech": contact},
            nameservers=[ns],
            auth_info=auth1,
        ),
        1000,
    )
    print(f"           exDate after create: {r.expiry_date()}")
    info = step("reg1", "domain:info", lambda: c1.domain.info(domain), 1000)
    exdate = info.expiry_date()
    if not exdate:
        fail("domain:info has no <domain:exDate>")
    print(f"           clID={info.sponsor()} exDate={exdate}")
    step(
        "reg1",
        "domain:update",
        lambda: c1.domain.update(
            domain, add={"statuses": ["clientHold"]}, chg={"auth_info": auth2}
        ),
        1000,
    )
    step(
        "reg1",
        "domain:update",
        lambda: c1.domain.update(domain, rem={"statuses": ["clientHold"]}),
        1000,
    )
    # renew() cuts the exDate timestamp down to the xs:date curExpDate wants
    r = step("reg1", "domain:renew", lambda: c1.domain.renew(domain, exdate, 1), 1000)
    print(f"           exDate after renew: {r.expiry_date()}")

    c2 = session(args, "reg2", args.clid2, args.password2)
    r = step("reg2", "transfer:req", lambda: c2.domain.transfer("request", domain, auth2), 1001)
    print(f"           trStatus={r.transfer_status()}")
    r = step("reg1", "transfer:apr", lambda: c1.domain.transfer("approve", domain), 1000)
    print(f"           trStatus={r.transfer_status()}")
    info = step("reg2", "domain:info", lambda: c2.domain.info(domain), 1000)
    if info.sponsor() != args.clid2:
        fail(f"after the transfer the sponsor is {info.sponsor()}, not {args.clid2}")
    step("reg2", "domain:delete", lambda: c2.domain.delete(domain), 1000, 1001)

    step("reg2", "logout", c2.logout, 1500)
    step("reg1", "logout", c1.logout, 1500)
    c1.disconnect()
    c2.disconnect()
    print("OK: all commands returned the expected codes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
