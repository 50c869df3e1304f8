"""domreg: a complete domain name registration system (registry, EPP, RDAP, WHOIS, DNS, escrow)."""

__version__ = "0.1.0"
