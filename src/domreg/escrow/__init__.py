"""Registry data escrow (RFC 8909, RFC 9022) and bulk registration data access (BRDA).

`model` names the deposit's parts (namespaces, file names, ids); `source` reads the registry
as of a watermark in one snapshot; `writer` streams the XML; `ryde` compresses, encrypts and
signs it (RyDE) and writes the deposit report; `verify` checks a deposit as the escrow agent
and ICANN's RST do; `restore` loads a deposit into an empty database; `brda` is the thin
variant for ICANN; `schema` compiles the shipped RDE schemas (`xsd/`).
"""
