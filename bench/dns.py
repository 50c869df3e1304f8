"""The DNS benchmark, runnable from a checkout: `python bench/dns.py [options]`.

The same as `domreg bench dns [options]`; the benchmark itself is `domreg.bench.dns`."""

from __future__ import annotations

import os
import sys

# This file's directory must not hide the dnspython package (`dns`) that the benchmark uses.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

from domreg.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "dns", *sys.argv[1:]]))
