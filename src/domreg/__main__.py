"""`python -m domreg` runs the command line."""

from domreg.cli.main import main

raise SystemExit(main())
