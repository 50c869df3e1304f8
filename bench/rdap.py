"""The RDAP benchmark, runnable from a checkout: `python bench/rdap.py [options]`.

The same as `domreg bench rdap [options]`; the benchmark itself is `domreg.bench.rdds`."""

from __future__ import annotations

import sys

from domreg.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "rdap", *sys.argv[1:]]))
