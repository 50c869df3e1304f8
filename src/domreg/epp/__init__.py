"""EPP (RFC 5730-5734): transport, XML codec, session state machine, client."""
