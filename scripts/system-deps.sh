#!/bin/sh
# Debian packages the test suite uses: third-party EPP clients (Perl Net::EPP).
# DNS (issue 5): Knot DNS (knotd, knotc, kzonecheck), kdig, ldns-verify-zone, named-checkzone,
# zonemaster-cli.
# Run as root; idempotent and quiet when everything is installed.
set -e
PACKAGES="libnet-epp-perl libio-socket-ssl-perl"
# RDAP/WHOIS (issue 4): Debian's whois client (tests); wrk and nginx (bench/rdap.py floor).
PACKAGES="$PACKAGES whois wrk nginx-light"
PACKAGES="$PACKAGES knot knot-dnsutils knot-dnssecutils ldnsutils bind9-utils zonemaster-cli"
# Browser tests of the web console (Playwright drives Debian's Chromium, headless).
PACKAGES="$PACKAGES chromium"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
