"""The escrow benchmark, runnable from a checkout: `python bench/escrow.py [options]`.

The same as `domreg bench escrow [options]`; the benchmark itself is `domreg.bench.escrow`."""

from __future__ import annotations

import sys

from domreg.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "escrow", *sys.argv[1:]]))
