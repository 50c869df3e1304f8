"""The EPP benchmark, runnable from a checkout: `python bench/epp.py [options]`.

The same as `domreg bench epp [options]`; the benchmark itself is `domreg.bench.epp`."""

from __future__ import annotations

import sys

from domreg.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "epp", *sys.argv[1:]]))
