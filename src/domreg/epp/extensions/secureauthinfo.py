"""Secure authorization information for transfer (RFC 9154): an operational practice the
greeting announces; it adds no element to any command or response.

What the registry does (flows/domain.py, flows/domain_create.py, flows/base.py): authInfo is
stored hashed (`hash_auth_info`: salted PBKDF2-HMAC-SHA-256), may be empty on create and
update (meaning "unset": no transfer until one is set), expires `auth_info_ttl` after an
update sets it, is never returned by info (the sponsor sees an empty `<domain:pw/>` while
one is set; others see nothing), does not match when unset, empty or expired (2202), and is
unset when a transfer completes.
"""

from __future__ import annotations

from domreg.epp.extensions.base import Command, Extend, Render

URI = "urn:ietf:params:xml:ns:epp:secure-authinfo-transfer-1.0"
SCHEMAS: dict[str, str] = {}
COMMANDS: dict[Command, Extend] = {}
RESPONSES: dict[Command, Render] = {}
