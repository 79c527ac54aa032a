"""Requests the Device Shadow service must refuse, shared by the HTTP and the MQTT tests so both
transports are held to the same rules ("Device Shadow error messages")."""

from __future__ import annotations

from typing import Any

# (payload, message of the 400 error document)
MALFORMED_UPDATES = [
    (b"{not json", "Invalid JSON"),
    (b"[1, 2]", "Invalid JSON"),
    (b'{"desired": {"on": true}}', "Missing required node: state"),
    (b'{"state": 5}', "State node must be an object"),
    (b'{"state": "on"}', "State node must be an object"),
    (b'{"state": {"desired": [1]}}', "Desired node must be an object"),
    (b'{"state": {"reported": "on"}}', "Reported node must be an object"),
    (b'{"state": {"delta": {"on": true}}}', "State contains an invalid node"),
    (b'{"state": {"desired": {}}, "version": "3"}', "Invalid version"),
]

TOO_LARGE = "The payload exceeds the maximum size allowed"
TOO_DEEP = "JSON contains too many levels of nesting; maximum is 6"


def nested(depth: int) -> Any:
    """An object `depth` levels deep: {"k": {"k": ... 1}}."""
    value: Any = 1
    for _ in range(depth):
        value = {"k": value}
    return value
