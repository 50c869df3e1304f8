#!/bin/sh
# Debian packages domreg uses. `system-deps.sh run`: what the running registry needs (Knot DNS
# serves and signs the zones; GnuPG encrypts and signs escrow deposits). `system-deps.sh test`
# (the default): those, plus what the test suite and benchmarks use: third-party EPP clients
# (Perl Net::EPP), DNS checkers (kzonecheck, kdig, ldns-verify-zone, named-checkzone,
# zonemaster-cli), Debian's whois client, wrk and nginx (benchmark floors).
# Run as root; idempotent and quiet when everything is installed.
set -e
PACKAGES="knot knot-dnsutils gnupg whois"
if [ "${1:-test}" = run ]; then
    :
else
PACKAGES="$PACKAGES libnet-epp-perl libio-socket-ssl-perl"
# RDAP/WHOIS (issue 4): Debian's whois client (tests); wrk and nginx (bench/rdap.py floor).
PACKAGES="$PACKAGES whois wrk nginx-light"
PACKAGES="$PACKAGES knot-dnssecutils ldnsutils bind9-utils zonemaster-cli"
# Browser tests of the web console (Playwright drives Debian's Chromium, headless).
PACKAGES="$PACKAGES chromium"
fi
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
