"""Local WebSocket servers that speak each venue's protocol (127.0.0.1 only).

`core.ProtocolServer` is the one server (sessions, broadcasting, fault knobs); each module
here is a `VenueProtocol`: its subscribe acks, keepalive and doc-quoted frames.
"""
