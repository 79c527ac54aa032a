"""The Device Shadow engine: AWS IoT Device Shadow semantics, independent of transport.

Every rule here follows the AWS IoT developer guide ("Device Shadow service documents",
"Interacting with shadows", "Device Shadow error messages", and the service quotas):

- UPDATE creates the shadow when missing; `desired`/`reported` are merged leaf by leaf, a `null`
  leaf removes that leaf, `"desired": null` removes the section, `"state": null` clears both.
- `version` increments on every accepted update; a request carrying a different `version` is
  409 "Version conflict". A shadow created again within 48 hours of its deletion continues the
  old version numbers ("Interacting with shadows", DELETE); localcloud keeps those versions as
  long as its state lives, without the 48-hour expiry.
- `metadata` holds a `{"timestamp"}` per leaf (arrays: one per element), touched only for the
  leaves an update names.
- delta = every leaf of `desired` that differs from `reported` (objects compared down to the
  leaves, arrays as whole values; keys only in `reported` never appear).
- Limits: 8 KB of state (desired + reported, metadata excluded) is 413; more than 6 levels of
  nesting is 400; `clientToken` over 64 bytes is 400 "Invalid clientToken".

Where moto's iot-data backend (5.2) differs, this module follows the AWS documentation, not
moto: moto rejects shadows of unregistered things, ignores `"desired": null` (the section stays),
echoes no `clientToken`, has no clientToken, size or depth limits, and fails with an internal
error on a `version` for a shadow that does not exist yet.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_STATE_BYTES = 8 * 1024
MAX_DEPTH = 6
MAX_CLIENT_TOKEN_BYTES = 64
MAX_MESSAGE_BYTES = 128 * 1024
# Name patterns from the IoT API reference (thingName, shadowName).
THING_NAME = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
SHADOW_NAME = re.compile(r"[a-zA-Z0-9:_-]{1,64}")

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode(document: Any) -> bytes:
    return _encode(document).encode()


class ShadowError(Exception):
    """A rejected request: `code` is the HTTP status AWS answers with."""

    def __init__(self, code: int, message: str, client_token: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_token = client_token

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message,
                                "timestamp": int(time.time())}
        if self.client_token is not None:
            body["clientToken"] = self.client_token
        return body


@dataclass(slots=True)
class Shadow:
    desired: dict[str, Any] = field(default_factory=dict)
    reported: dict[str, Any] = field(default_factory=dict)
    desired_meta: dict[str, Any] = field(default_factory=dict)
    reported_meta: dict[str, Any] = field(default_factory=dict)
    version: int = 0

    def state_document(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        if self.desired:
            state["desired"] = self.desired
            metadata["desired"] = self.desired_meta
        if self.reported:
            state["reported"] = self.reported
            metadata["reported"] = self.reported_meta
        return {"state": state, "metadata": metadata, "version": self.version}


@dataclass(slots=True)
class Outcome:
    """What a request produced: the response (HTTP status + document) and MQTT messages.

    `messages` are (topic suffix, payload) pairs such as ("update/delta", b"{...}"); the caller
    prefixes them with the shadow's topic root.
    """

    status: int
    body: bytes
    messages: list[tuple[str, bytes]]


def shadow_topic_root(thing: str, name: str = "") -> str:
    if name:
        return f"$aws/things/{thing}/shadow/name/{name}/"
    return f"$aws/things/{thing}/shadow/"


# --- document helpers --------------------------------------------------------------------------
def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _leaf_metadata(value: Any, stamp: dict[str, int]) -> Any:
    if isinstance(value, dict):
        return {k: _leaf_metadata(v, stamp) for k, v in value.items()}
    if isinstance(value, list):
        return [_leaf_metadata(v, stamp) for v in value]
    return stamp


def _request_metadata(section: dict[str, Any], stamp: dict[str, int]) -> dict[str, Any]:
    """Metadata for the leaves a request names, `null` leaves included (they were touched)."""
    out: dict[str, Any] = {}
    for key, value in section.items():
        if isinstance(value, dict):
            out[key] = _request_metadata(value, stamp)
        else:
            out[key] = _leaf_metadata(value, stamp)
    return out


def _merge(target: dict[str, Any], meta: dict[str, Any], patch: dict[str, Any],
           stamp: dict[str, int]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            meta.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            if not isinstance(current, dict):
                current = target[key] = {}
                meta[key] = {}
            child_meta = meta.get(key)
            if not isinstance(child_meta, dict):
                child_meta = meta[key] = {}
            _merge(current, child_meta, value, stamp)
            if not current:
                # An object left without leaves is removed with them.
                del target[key]
                meta.pop(key, None)
        else:
            target[key] = value
            meta[key] = _leaf_metadata(value, stamp)


def _same(a: Any, b: Any) -> bool:
    # JSON equality: booleans are not numbers (Python's True == 1 is not JSON's).
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(b, dict | list):
        return False
    return a == b


def delta_of(desired: dict[str, Any], reported: dict[str, Any],
             desired_meta: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(delta state, its metadata): the desired leaves that differ from reported."""
    delta: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for key, wanted in desired.items():
        if key not in reported:
            delta[key] = wanted
            meta[key] = desired_meta.get(key)
            continue
        actual = reported[key]
        if isinstance(wanted, dict) and isinstance(actual, dict):
            child_meta = desired_meta.get(key)
            sub, sub_meta = delta_of(wanted, actual,
                                     child_meta if isinstance(child_meta, dict) else {})
            if sub:
                delta[key] = sub
                meta[key] = sub_meta
        elif not _same(wanted, actual):
            delta[key] = wanted
            meta[key] = desired_meta.get(key)
    return delta, meta


def _size(section: dict[str, Any]) -> int:
    return len(encode(section)) if section else 0


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# --- the store -----------------------------------------------------------------------------------
class ShadowStore:
    """Every shadow, keyed by (thing, shadow name); "" is the classic (unnamed) shadow.

    Not thread-safe: localcloud calls it from its one event loop thread.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self.shadows: dict[tuple[str, str], Shadow] = {}
        # Last version of deleted shadows: a shadow created again continues from there.
        self.deleted: dict[tuple[str, str], int] = {}
        self.on_change = on_change

    # --- requests ---------------------------------------------------------------------------
    def update(self, thing: str, name: str, payload: bytes, documents: bool = True) -> Outcome:
        """Apply an update; `documents=False` skips building `/update/documents` (nobody
        listens), which is a third of the work of an update."""
        token: str | None = None
        try:
            _check_names(thing, name)
            request = _parse(payload)
            token = _client_token(request)
            result = self._update(thing, name, request, token, documents)
        except ShadowError as error:
            error.client_token = error.client_token or token
            body = encode(error.document())
            return Outcome(error.code, body, [("update/rejected", body)])
        return result

    def get(self, thing: str, name: str, payload: bytes = b"") -> Outcome:
        token: str | None = None
        try:
            _check_names(thing, name)
            request = _parse(payload) if payload.strip() else {}
            token = _client_token(request)
            shadow = self.shadows.get((thing, name))
            if shadow is None:
                raise ShadowError(404, f"No shadow exists with name: '{_display(thing, name)}'")
            document = shadow.state_document()
            delta, delta_meta = delta_of(shadow.desired, shadow.reported, shadow.desired_meta)
            if delta:
                document["state"]["delta"] = delta
            document["timestamp"] = int(time.time())
            if token is not None:
                document["clientToken"] = token
        except ShadowError as error:
            error.client_token = error.client_token or token
            body = encode(error.document())
            return Outcome(error.code, body, [("get/rejected", body)])
        body = encode(document)
        return Outcome(200, body, [("get/accepted", body)])

    def delete(self, thing: str, name: str, payload: bytes = b"") -> Outcome:
        token: str | None = None
        try:
            _check_names(thing, name)
            request = _parse(payload) if payload.strip() else {}
            token = _client_token(request)
            shadow = self.shadows.pop((thing, name), None)
            if shadow is None:
                raise ShadowError(404, f"No shadow exists with name: '{_display(thing, name)}'")
        except ShadowError as error:
            error.client_token = error.client_token or token
            body = encode(error.document())
            return Outcome(error.code, body, [("delete/rejected", body)])
        self.deleted[(thing, name)] = shadow.version
        document: dict[str, Any] = {"version": shadow.version, "timestamp": int(time.time())}
        if token is not None:
            document["clientToken"] = token
        self._changed()
        body = encode(document)
        return Outcome(200, body, [("delete/accepted", body)])

    def list_named(self, thing: str) -> list[str]:
        return sorted(name for (owner, name) in self.shadows if owner == thing and name)

    # --- persistence ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "shadows": [
                {
                    "thing": thing,
                    "name": name,
                    "version": shadow.version,
                    "desired": shadow.desired,
                    "reported": shadow.reported,
                    "metadata": {"desired": shadow.desired_meta,
                                 "reported": shadow.reported_meta},
                }
                for (thing, name), shadow in self.shadows.items()
            ],
            "deleted": [
                {"thing": thing, "name": name, "version": version}
                for (thing, name), version in self.deleted.items()
            ],
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.shadows.clear()
        self.deleted.clear()
        for row in data.get("shadows", []):
            self.shadows[(row["thing"], row["name"])] = Shadow(
                desired=row["desired"],
                reported=row["reported"],
                desired_meta=row["metadata"]["desired"],
                reported_meta=row["metadata"]["reported"],
                version=row["version"],
            )
        for row in data.get("deleted", []):
            self.deleted[(row["thing"], row["name"])] = row["version"]

    # --- internals --------------------------------------------------------------------------
    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _update(self, thing: str, name: str, request: dict[str, Any],
                token: str | None, with_documents: bool) -> Outcome:
        version = request.get("version")
        if "version" in request and (
            type(version) is not int or version < 0  # bool is not a version
        ):
            raise ShadowError(400, "Invalid version")
        if "state" not in request:
            raise ShadowError(400, "Missing required node: state")
        state = request["state"]
        if state is not None and not isinstance(state, dict):
            raise ShadowError(400, "State node must be an object")
        if state:
            for key in state:
                if key not in ("desired", "reported"):
                    raise ShadowError(400, "State contains an invalid node")
            for key, label in (("desired", "Desired"), ("reported", "Reported")):
                if key in state and state[key] is not None and not isinstance(state[key], dict):
                    raise ShadowError(400, f"{label} node must be an object")
                if _depth(state.get(key)) > MAX_DEPTH:
                    raise ShadowError(400, "JSON contains too many levels of nesting; maximum is 6")

        key = (thing, name)
        shadow = self.shadows.get(key)
        current_version = shadow.version if shadow else self.deleted.get(key, 0)
        if version is not None and version != current_version:
            raise ShadowError(409, "Version conflict")

        now = int(time.time())
        stamp = {"timestamp": now}
        previous = shadow.state_document() if shadow and with_documents else None
        if previous is not None:
            # The previous document must not see the changes applied below.
            previous = _copy(previous)
        new = Shadow(
            desired=_copy(shadow.desired) if shadow else {},
            reported=_copy(shadow.reported) if shadow else {},
            desired_meta=_copy(shadow.desired_meta) if shadow else {},
            reported_meta=_copy(shadow.reported_meta) if shadow else {},
            version=current_version + 1,
        )
        accepted_state: dict[str, Any] = {}
        accepted_meta: dict[str, Any] = {}
        if state is None:
            new.desired, new.reported, new.desired_meta, new.reported_meta = {}, {}, {}, {}
            accepted_state = None  # type: ignore[assignment]
        else:
            for section in ("desired", "reported"):
                if section not in state:
                    continue
                patch = state[section]
                accepted_state[section] = patch
                if patch is None:
                    setattr(new, section, {})
                    setattr(new, f"{section}_meta", {})
                    accepted_meta[section] = stamp
                else:
                    _merge(getattr(new, section), getattr(new, f"{section}_meta"), patch, stamp)
                    accepted_meta[section] = _request_metadata(patch, stamp)
        if _size(new.desired) + _size(new.reported) > MAX_STATE_BYTES:
            raise ShadowError(413, "The payload exceeds the maximum size allowed")

        self.shadows[key] = new
        self.deleted.pop(key, None)
        self._changed()

        accepted: dict[str, Any] = {"state": accepted_state, "metadata": accepted_meta,
                                    "version": new.version, "timestamp": now}
        if token is not None:
            accepted["clientToken"] = token
        body = encode(accepted)
        messages = [("update/accepted", body)]

        delta, delta_meta = delta_of(new.desired, new.reported, new.desired_meta)
        if delta:
            delta_doc: dict[str, Any] = {"version": new.version, "timestamp": now,
                                         "state": delta, "metadata": delta_meta}
            if token is not None:
                delta_doc["clientToken"] = token
            messages.append(("update/delta", encode(delta_doc)))

        if with_documents:
            documents: dict[str, Any] = {"previous": previous,
                                         "current": new.state_document(), "timestamp": now}
            if token is not None:
                documents["clientToken"] = token
            messages.append(("update/documents", encode(documents)))
        return Outcome(200, body, messages)


def _display(thing: str, name: str) -> str:
    return name or thing


def _check_names(thing: str, name: str) -> None:
    if not THING_NAME.fullmatch(thing):
        raise ShadowError(400, "Invalid thing name")
    if name and not SHADOW_NAME.fullmatch(name):
        raise ShadowError(400, "Invalid shadow name")


def _parse(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ShadowError(413, "The payload exceeds the maximum size allowed")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ShadowError(415, "Unsupported documented encoding; supported encoding is UTF-8") \
            from error
    try:
        request = json.loads(text)
    except ValueError as error:
        raise ShadowError(400, "Invalid JSON") from error
    if not isinstance(request, dict):
        raise ShadowError(400, "Invalid JSON")
    return request


def _client_token(request: dict[str, Any]) -> str | None:
    if "clientToken" not in request:
        return None
    token = request["clientToken"]
    if not isinstance(token, str):
        raise ShadowError(400, "Invalid clientToken")
    if len(token.encode()) > MAX_CLIENT_TOKEN_BYTES:
        raise ShadowError(400, "Invalid clientToken")
    return token
