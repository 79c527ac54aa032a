"""MQTT 3.1.1 wire format: the packet encoders and the incremental decoder.

Shared by the broker and the asyncio client. Section numbers refer to the OASIS MQTT 3.1.1
standard. Only what IoT Core speaks is here: QoS 0 and 1 flows, no QoS 2 handshake.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14

# CONNACK return codes (§3.2.2.3).
ACCEPTED = 0
REFUSED_PROTOCOL = 1
REFUSED_IDENTIFIER = 2
REFUSED_UNAVAILABLE = 3
REFUSED_BAD_CREDENTIALS = 4
REFUSED_NOT_AUTHORIZED = 5

SUBACK_FAILURE = 0x80

PINGREQ_PACKET = b"\xc0\x00"
PINGRESP_PACKET = b"\xd0\x00"
DISCONNECT_PACKET = b"\xe0\x00"

# The largest Remaining Length the encoding can carry (§2.2.3).
MAX_REMAINING_LENGTH = 268_435_455


class ProtocolError(Exception):
    """The peer broke the protocol; the connection must be closed (§4.8)."""


def encode_length(length: int) -> bytes:
    """Remaining Length as the variable-length integer of §2.2.3."""
    out = bytearray()
    while True:
        digit, length = length % 128, length // 128
        out.append(digit | 0x80 if length else digit)
        if not length:
            return bytes(out)


def encode_string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(data)) + data


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + encode_length(len(body)) + body


def connect(
    client_id: str,
    *,
    keepalive: int = 60,
    clean_session: bool = True,
    username: str | None = None,
    password: str | None = None,
    will_topic: str | None = None,
    will_payload: bytes = b"",
    will_qos: int = 0,
    will_retain: bool = False,
) -> bytes:
    flags = 0x02 if clean_session else 0
    payload = encode_string(client_id)
    if will_topic is not None:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        payload += encode_string(will_topic) + encode_string(will_payload)
    if username is not None:
        flags |= 0x80
        payload += encode_string(username)
    if password is not None:
        flags |= 0x40
        payload += encode_string(password)
    header = encode_string("MQTT") + bytes((4, flags)) + struct.pack("!H", keepalive)
    return packet(CONNECT << 4, header + payload)


def connack(session_present: bool, code: int) -> bytes:
    return bytes((CONNACK << 4, 2, 1 if session_present else 0, code))


def publish(
    topic: str | bytes, payload: bytes, qos: int = 0, packet_id: int = 0, retain: bool = False,
    dup: bool = False,
) -> bytes:
    first = (PUBLISH << 4) | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = encode_string(topic)
    if qos:
        body += struct.pack("!H", packet_id)
    return packet(first, body + payload)


def puback(packet_id: int) -> bytes:
    return bytes((PUBACK << 4, 2)) + struct.pack("!H", packet_id)


def subscribe(packet_id: int, filters: list[tuple[str, int]]) -> bytes:
    body = struct.pack("!H", packet_id)
    for topic_filter, qos in filters:
        body += encode_string(topic_filter) + bytes((qos,))
    return packet((SUBSCRIBE << 4) | 0x02, body)


def suback(packet_id: int, codes: list[int]) -> bytes:
    return packet(SUBACK << 4, struct.pack("!H", packet_id) + bytes(codes))


def unsubscribe(packet_id: int, filters: list[str]) -> bytes:
    body = struct.pack("!H", packet_id) + b"".join(encode_string(f) for f in filters)
    return packet((UNSUBSCRIBE << 4) | 0x02, body)


def unsuback(packet_id: int) -> bytes:
    return bytes((UNSUBACK << 4, 2)) + struct.pack("!H", packet_id)


@dataclass(slots=True)
class Packet:
    kind: int
    flags: int
    body: bytes


class Decoder:
    """Splits a byte stream into packets; feed() whatever the socket delivered."""

    __slots__ = ("_buffer", "max_length")

    def __init__(self, max_length: int = MAX_REMAINING_LENGTH) -> None:
        self._buffer = bytearray()
        self.max_length = max_length

    def feed(self, data: bytes) -> list[Packet]:
        buffer = self._buffer
        buffer += data
        packets: list[Packet] = []
        offset = 0
        end = len(buffer)
        while end - offset >= 2:
            first = buffer[offset]
            length = 0
            shift = 0
            index = offset + 1
            complete = False
            while index < end:
                digit = buffer[index]
                index += 1
                length |= (digit & 0x7F) << shift
                if not digit & 0x80:
                    complete = True
                    break
                shift += 7
                if shift > 21:
                    raise ProtocolError("malformed remaining length")  # §2.2.3: 4 bytes max
            if not complete:
                break
            if length > self.max_length:
                raise ProtocolError(f"packet of {length} bytes is over the limit")
            if end - index < length:
                break
            packets.append(Packet(first >> 4, first & 0x0F, bytes(buffer[index : index + length])))
            offset = index + length
        if offset:
            del buffer[:offset]
        return packets


def read_string(body: bytes, offset: int) -> tuple[str, int]:
    if offset + 2 > len(body):
        raise ProtocolError("truncated string")
    (size,) = struct.unpack_from("!H", body, offset)
    start = offset + 2
    if start + size > len(body):
        raise ProtocolError("truncated string")
    try:
        return body[start : start + size].decode(), start + size
    except UnicodeDecodeError as error:
        # §1.5.3: a string that is not well-formed UTF-8 closes the connection.
        raise ProtocolError("string is not UTF-8") from error


def read_bytes(body: bytes, offset: int) -> tuple[bytes, int]:
    (size,) = struct.unpack_from("!H", body, offset)
    start = offset + 2
    return body[start : start + size], start + size


@dataclass(slots=True)
class Connect:
    client_id: str
    clean_session: bool
    keepalive: int
    username: str | None
    password: str | None
    will_topic: str | None
    will_payload: bytes
    will_qos: int
    will_retain: bool
    protocol_level: int


def parse_connect(body: bytes) -> Connect:
    try:
        protocol, offset = read_string(body, 0)
        level, flags = body[offset], body[offset + 1]
        (keepalive,) = struct.unpack_from("!H", body, offset + 2)
        offset += 4
        client_id, offset = read_string(body, offset)
        will_topic = None
        will_payload = b""
        if flags & 0x04:
            will_topic, offset = read_string(body, offset)
            will_payload, offset = read_bytes(body, offset)
        username = password = None
        if flags & 0x80:
            username, offset = read_string(body, offset)
        if flags & 0x40:
            raw, offset = read_bytes(body, offset)
            password = raw.decode(errors="replace")
    except (IndexError, struct.error) as error:
        raise ProtocolError("truncated CONNECT") from error
    if protocol not in ("MQTT", "MQIsdp"):
        raise ProtocolError(f"unknown protocol name {protocol!r}")
    if flags & 0x01:
        raise ProtocolError("reserved CONNECT flag set")  # §3.1.2.3
    return Connect(
        client_id=client_id,
        clean_session=bool(flags & 0x02),
        keepalive=keepalive,
        username=username,
        password=password,
        will_topic=will_topic,
        will_payload=will_payload,
        will_qos=(flags >> 3) & 0x03,
        will_retain=bool(flags & 0x20),
        protocol_level=level,
    )


def parse_publish(flags: int, body: bytes) -> tuple[str, bytes, int, int, bool]:
    """(topic, payload, qos, packet_id, retain) of a PUBLISH."""
    qos = (flags >> 1) & 0x03
    topic, offset = read_string(body, 0)
    packet_id = 0
    if qos:
        if offset + 2 > len(body):
            raise ProtocolError("truncated PUBLISH")
        (packet_id,) = struct.unpack_from("!H", body, offset)
        offset += 2
    return topic, body[offset:], qos, packet_id, bool(flags & 0x01)


def parse_subscribe(body: bytes) -> tuple[int, list[tuple[str, int]]]:
    (packet_id,) = struct.unpack_from("!H", body, 0)
    offset = 2
    filters: list[tuple[str, int]] = []
    while offset < len(body):
        topic_filter, offset = read_string(body, offset)
        if offset >= len(body):
            raise ProtocolError("SUBSCRIBE filter without QoS")
        filters.append((topic_filter, body[offset]))
        offset += 1
    if not filters:
        raise ProtocolError("SUBSCRIBE without filters")  # §3.8.3-3
    return packet_id, filters


def parse_unsubscribe(body: bytes) -> tuple[int, list[str]]:
    (packet_id,) = struct.unpack_from("!H", body, 0)
    offset = 2
    filters: list[str] = []
    while offset < len(body):
        topic_filter, offset = read_string(body, offset)
        filters.append(topic_filter)
    return packet_id, filters


def packet_id_of(body: bytes) -> int:
    return struct.unpack_from("!H", body, 0)[0]


def valid_topic_name(topic: str) -> bool:
    """§4.7.3: non-empty, no wildcards, no NUL."""
    return bool(topic) and "+" not in topic and "#" not in topic and "\0" not in topic


def valid_topic_filter(topic_filter: str) -> bool:
    """§4.7.1: `#` only last and alone in its level; `+` alone in its level."""
    if not topic_filter or "\0" in topic_filter:
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether `topic` matches `topic_filter` (§4.7), `$` topics excluded from leading wildcards."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)
