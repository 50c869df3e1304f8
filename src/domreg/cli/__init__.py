"""The `domreg` command line: administration, the server, and an EPP client."""
