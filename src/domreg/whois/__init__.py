"""WHOIS (RFC 3912): the server (`whois/server.py`) and the answers (`whois/render.py`)."""
