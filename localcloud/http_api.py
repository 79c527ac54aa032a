"""The AWS IoT data-plane HTTP API on asyncio, so `boto3.client("iot-data", endpoint_url=...)`
works unchanged.

Routes (IoT data-plane API reference): UpdateThingShadow `POST /things/{thingName}/shadow`,
GetThingShadow `GET`, DeleteThingShadow `DELETE` (each with `?name=` for named shadows),
ListNamedShadowsForThing `GET /api/things/shadow/ListNamedShadowsForThing/{thingName}`,
Publish `POST /topics/{topic}?qos=N&retain=B`.

Errors carry the Device Shadow error document (`code`, `message`, `timestamp`, `clientToken`)
as the body, and `x-amzn-ErrorType` names the API's exception so botocore raises the right
class (`ConflictException` for 409, ...). Requests are not signature-checked: any credentials do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from localcloud import mqtt
from localcloud.shadow import MAX_MESSAGE_BYTES, Outcome

log = logging.getLogger("localcloud.http")

# The exception each status maps to in the iot-data API model.
ERROR_TYPES = {
    400: "InvalidRequestException",
    401: "UnauthorizedException",
    404: "ResourceNotFoundException",
    405: "MethodNotAllowedException",
    409: "ConflictException",
    413: "RequestEntityTooLargeException",
    415: "UnsupportedDocumentEncodingException",
    429: "ThrottlingException",
    500: "InternalFailureException",
}
MAX_BODY = MAX_MESSAGE_BYTES + 1024
LIST_PAGE_SIZE = 25


class DataPlane(Protocol):
    """What the HTTP API calls into: the shadow service and the message bus."""

    def update(self, thing: str, name: str, payload: bytes) -> Outcome: ...

    def get(self, thing: str, name: str) -> Outcome: ...

    def delete(self, thing: str, name: str) -> Outcome: ...

    def list_named(self, thing: str) -> list[str]: ...

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None: ...


def _error(status: int, message: str) -> tuple[int, bytes]:
    body = {"code": status, "message": message, "timestamp": int(time.time())}
    return status, json.dumps(body).encode()


class HttpApi:
    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        bound = self._server.sockets[0].getsockname()
        return bound[0], bound[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._clients):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length > MAX_BODY:
                    status, body = _error(413, "The payload exceeds the maximum size allowed")
                    await self._respond(writer, status, body, close=True)
                    return
                payload = await reader.readexactly(length) if length else b""
                try:
                    status, body = self.route(method, target, payload)
                except Exception:
                    log.exception("%s %s failed", method, target)
                    status, body = _error(500, "Internal service failure")
                close = headers.get("connection", "").lower() == "close"
                await self._respond(writer, status, body, close=close)
                if close:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError,
                ValueError):
            return
        finally:
            self._clients.discard(writer)
            writer.close()

    async def _respond(self, writer: asyncio.StreamWriter, status: int, body: bytes,
                       close: bool) -> None:
        reason = HTTPStatus(status).phrase
        head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json",
                f"Content-Length: {len(body)}"]
        if status >= 400:
            head.append(f"x-amzn-ErrorType: {ERROR_TYPES.get(status, 'InvalidRequestException')}")
        if close:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()

    def route(self, method: str, target: str, payload: bytes) -> tuple[int, bytes]:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        # botocore percent-encodes every label (`$` and `/` in topics included): split first.
        segments = [unquote(s) for s in parts.path.split("/")[1:]]
        plane = self.plane
        if len(segments) == 3 and segments[0] == "things" and segments[2] == "shadow":
            thing, name = segments[1], query.get("name", "")
            if method == "POST":
                outcome = plane.update(thing, name, payload)
            elif method == "GET":
                outcome = plane.get(thing, name)
            elif method == "DELETE":
                outcome = plane.delete(thing, name)
            else:
                return _error(405, f"Method {method} is not allowed")
            return outcome.status, outcome.body
        if segments[:4] == ["api", "things", "shadow", "ListNamedShadowsForThing"] and len(
            segments
        ) == 5 and method == "GET":
            return self._list_named(segments[4], query)
        if segments and segments[0] == "topics" and len(segments) >= 2:
            if method != "POST":
                return _error(405, f"Method {method} is not allowed")
            # A topic may contain `/` that arrived unencoded: rejoin what followed "topics".
            topic = "/".join(segments[1:])
            try:
                qos = int(query.get("qos", "0") or 0)
            except ValueError:
                return _error(400, "Invalid qos")
            if qos not in (0, 1):
                return _error(400, "Invalid qos: AWS IoT supports QoS 0 and 1")
            if not mqtt.valid_topic_name(topic):
                return _error(400, f"Invalid topic: {topic}")
            if len(payload) > MAX_MESSAGE_BYTES:
                return _error(413, "The payload exceeds the maximum size allowed")
            retain = query.get("retain", "false").lower() == "true"
            plane.publish(topic, payload, qos, retain)
            return 200, b""
        return _error(404, f"No route for {method} {parts.path}")

    def _list_named(self, thing: str, query: dict[str, str]) -> tuple[int, bytes]:
        try:
            size = int(query.get("pageSize") or LIST_PAGE_SIZE)
            start = int(query.get("nextToken") or 0)
        except ValueError:
            return _error(400, "Invalid pageSize or nextToken")
        if not 1 <= size <= 100:
            return _error(400, "pageSize must be between 1 and 100")
        names = self.plane.list_named(thing)
        page = names[start : start + size]
        body: dict[str, Any] = {"results": page, "timestamp": int(time.time())}
        if start + size < len(names):
            body["nextToken"] = str(start + size)
        return 200, json.dumps(body).encode()
