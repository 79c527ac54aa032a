"""An asyncio MQTT 3.1.1 broker that behaves like AWS IoT Core's message broker.

What it does the way IoT Core does (AWS IoT developer guide, "MQTT" and "AWS IoT differences
from MQTT specifications"):

- QoS 0 and 1 only. A PUBLISH with QoS 2 closes the connection; a SUBSCRIBE asking for QoS 2 is
  granted QoS 1 (the server may grant less than asked, MQTT 3.1.1 §3.9.3).
- A second connection with a client id already connected takes over and drops the first.
- The connection is closed after 1.5 x keepalive without any packet (§3.1.2.10), and the Last
  Will is published whenever the connection ends without DISCONNECT.
- Per-thing identity: a device client (client id = thing name, `sl-` + 12 hex) may only publish
  and subscribe its own `$aws/things/<thing>/shadow/...` and `smartlight/<thing>/...` topics.
  A forbidden SUBSCRIBE filter gets return code 0x80; a forbidden PUBLISH closes the connection,
  which is what IoT Core does when a policy denies `iot:Publish` on MQTT 3.1.1.
- The service client (username/password given to the broker) may use every topic.
- The MQTT username of anyone else is not a credential (AWS's device SDKs put SDK metrics there,
  `?SDK=Python&Version=...`): it is ignored.
- A second listener speaks MQTT over TLS and requires a client certificate (IoT Core on 8883):
  who the client is and what it may do comes from an `Authenticator` (localcloud.iot), which
  evaluates the IoT policies attached to the certificate. There a forbidden SUBSCRIBE closes the
  connection as a forbidden PUBLISH does, and messages the policy does not let the client
  receive (iot:Receive) are not delivered to it.

Routing is dictionary lookups down a topic tree, so a publish costs O(levels), not
O(subscriptions). Wildcards at the first level never match topics beginning with `$` (§4.7.2).
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import re
import socket
import ssl
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from localcloud import mqtt

log = logging.getLogger("localcloud.broker")

DEVICE_CLIENT_ID = re.compile(r"sl-[0-9a-f]{12}")
# IoT Core's message size limit: 128 KB of payload.
MAX_PAYLOAD = 128 * 1024
# Unacknowledged QoS 1 messages kept per session (IoT Core queues for persistent sessions too).
MAX_INFLIGHT = 1000
# A connection that has not sent CONNECT by then is dropped (§3.1.4, "reasonable time").
CONNECT_TIMEOUT = 10.0

Listener = Callable[[str, bytes], None]


class Node:
    __slots__ = ("children", "sessions", "listeners")

    def __init__(self) -> None:
        self.children: dict[str, Node] = {}
        self.sessions: dict[Session, int] = {}
        self.listeners: list[Listener] = []

    def empty(self) -> bool:
        return not (self.children or self.sessions or self.listeners)


class TopicTree:
    """Subscriptions by topic level; `match` walks at most the `+`/`#` branches it meets."""

    def __init__(self) -> None:
        self.root = Node()

    def node(self, topic_filter: str) -> Node:
        node = self.root
        for level in topic_filter.split("/"):
            child = node.children.get(level)
            if child is None:
                child = node.children[level] = Node()
            node = child
        return node

    def prune(self, topic_filter: str) -> None:
        path = [self.root]
        levels = topic_filter.split("/")
        for level in levels:
            child = path[-1].children.get(level)
            if child is None:
                return
            path.append(child)
        for depth in range(len(levels), 0, -1):
            if path[depth].empty():
                del path[depth - 1].children[levels[depth - 1]]
            else:
                break

    def match(self, topic: str) -> list[Node]:
        levels = topic.split("/")
        count = len(levels)
        dollar = topic.startswith("$")
        found: list[Node] = []
        stack = [(self.root, 0)]
        while stack:
            node, index = stack.pop()
            children = node.children
            if index == count:
                found.append(node)
                # "sport/#" also matches "sport" (§4.7.1.2).
                hash_node = children.get("#")
                if hash_node is not None:
                    found.append(hash_node)
                continue
            if not (index == 0 and dollar):
                hash_node = children.get("#")
                if hash_node is not None:
                    found.append(hash_node)
                plus = children.get("+")
                if plus is not None:
                    stack.append((plus, index + 1))
            child = children.get(levels[index])
            if child is not None:
                stack.append((child, index + 1))
        return found


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection is: the service client, or a device limited to its own thing."""

    service: bool
    thing: str | None = None

    # A forbidden SUBSCRIBE gets return code 0x80 and the connection stays.
    strict: bool = False
    # Every message a subscription matches is delivered.
    checks_receive: bool = False

    def may_use(self, topic: str) -> bool:
        """Whether this client may publish to / subscribe to `topic` (a name or a filter)."""
        if self.service:
            return True
        thing = self.thing
        return topic.startswith(f"$aws/things/{thing}/shadow/") or topic.startswith(
            f"smartlight/{thing}/"
        )

    def may_publish(self, topic: str) -> bool:
        return self.may_use(topic)

    def may_subscribe(self, topic_filter: str) -> bool:
        return self.may_use(topic_filter)

    def may_receive(self, topic: str) -> bool:
        return True


class Principal(Protocol):
    """What a connection may do; `Identity`, or a certificate's policies (localcloud.iot)."""

    service: bool
    strict: bool
    checks_receive: bool

    def may_publish(self, topic: str) -> bool: ...

    def may_subscribe(self, topic_filter: str) -> bool: ...

    def may_receive(self, topic: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused CONNECT: the CONNACK return code (None: the connection is closed without a
    CONNACK, as IoT Core drops a just-in-time registered device's first connection), and why
    (logged)."""

    code: int | None
    reason: str


class Authenticator(Protocol):
    """Decides who a client of the TLS listener is, from its certificate (DER)."""

    def before_handshake(self, context: ssl.SSLContext) -> None:
        """Called for each new TLS connection before its handshake (e.g. to trust new CAs)."""
        ...

    def authenticate(self, client_id: str, certificate: bytes) -> Principal | Refusal: ...

    def revoked(self, principal: Principal) -> str | None:
        """Why a connected principal may no longer stay connected (its certificate deactivated,
        revoked or deleted), or None."""
        ...


class Session:
    __slots__ = ("client_id", "clean", "subscriptions", "connection", "inflight", "_ids",
                 "receive")

    def __init__(self, client_id: str, clean: bool) -> None:
        self.client_id = client_id
        self.clean = clean
        # The iot:Receive check of the connected principal, when it has one.
        self.receive: Callable[[str], bool] | None = None
        self.subscriptions: dict[str, int] = {}
        self.connection: Connection | None = None
        # QoS 1 messages sent (or queued while offline) and not yet acknowledged, by packet id.
        self.inflight: dict[int, bytes] = {}
        self._ids = itertools.cycle(range(1, 65536))

    def send_qos1(self, topic: str, payload: bytes, retain: bool = False) -> None:
        packet_id = next(self._ids)
        inflight = self.inflight
        if len(inflight) >= MAX_INFLIGHT:
            inflight.pop(next(iter(inflight)))
        packet = mqtt.publish(topic, payload, 1, packet_id, retain=retain)
        inflight[packet_id] = packet
        if self.connection is not None:
            self.connection.write(packet)


class Connection(asyncio.Protocol):
    def __init__(self, broker: Broker, tls: bool = False) -> None:
        self.broker = broker
        self.tls = tls
        self.transport: asyncio.Transport | None = None
        self.decoder = mqtt.Decoder(max_length=MAX_PAYLOAD + 65_540)
        self.session: Session | None = None
        self.identity: Principal | None = None
        self.keepalive = 0
        self.last_seen = 0.0
        self.opened = 0.0
        self.will: tuple[str, bytes, int, bool] | None = None
        self.closed = False
        self.peer = "?"

    # --- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.opened = self.last_seen = self.broker.loop.time()
        self.broker.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.last_seen = self.broker.loop.time()
        try:
            packets = self.decoder.feed(data)
            for packet in packets:
                if self.closed:
                    return
                self.handle(packet)
        except mqtt.ProtocolError as error:
            self.close(f"protocol error: {error}")
        except (IndexError, ValueError, struct.error) as error:
            self.close(f"malformed packet: {error}")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.close("connection lost" if exc is None else f"connection lost: {exc}")

    # --- helpers --------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        transport = self.transport
        if not self.closed and transport is not None and not transport.is_closing():
            transport.write(data)

    @property
    def client_id(self) -> str:
        return self.session.client_id if self.session else "?"

    def close(self, reason: str, publish_will: bool = True) -> None:
        """End the connection; the Last Will goes out unless the client sent DISCONNECT."""
        if self.closed:
            return
        self.closed = True
        self.broker.connections.discard(self)
        if self.transport is not None:
            self.transport.close()
        log.debug("closed %s (%s): %s", self.client_id, self.peer, reason)
        session = self.session
        if session is None:
            return
        if session.connection is self:
            session.connection = None
            if session.clean:
                self.broker.drop_session(session)
        will = self.will
        self.will = None
        if will is not None and publish_will:
            topic, payload, qos, retain = will
            self.broker.publish(topic, payload, qos, retain)

    # --- packets --------------------------------------------------------------------------------
    def handle(self, packet: mqtt.Packet) -> None:
        kind = packet.kind
        if self.session is None:
            if kind != mqtt.CONNECT:
                raise mqtt.ProtocolError("first packet must be CONNECT")  # §3.1.0-1
            self.on_connect(mqtt.parse_connect(packet.body))
        elif kind == mqtt.PUBLISH:
            self.on_publish(packet.flags, packet.body)
        elif kind == mqtt.PUBACK:
            self.session.inflight.pop(mqtt.packet_id_of(packet.body), None)
        elif kind == mqtt.PINGREQ:
            self.write(mqtt.PINGRESP_PACKET)
        elif kind == mqtt.SUBSCRIBE:
            self.on_subscribe(packet.body)
        elif kind == mqtt.UNSUBSCRIBE:
            packet_id, filters = mqtt.parse_unsubscribe(packet.body)
            for topic_filter in filters:
                self.broker.unsubscribe(self.session, topic_filter)
            self.write(mqtt.unsuback(packet_id))
        elif kind == mqtt.DISCONNECT:
            self.close("DISCONNECT", publish_will=False)  # §3.14.4: discard the Will
        elif kind == mqtt.CONNECT:
            raise mqtt.ProtocolError("second CONNECT")  # §3.1.0-2
        else:
            raise mqtt.ProtocolError(f"packet type {kind} is not supported (no QoS 2)")

    def on_connect(self, request: mqtt.Connect) -> None:
        broker = self.broker
        if request.protocol_level not in (3, 4):
            self.write(mqtt.connack(False, mqtt.REFUSED_PROTOCOL))
            self.close("unsupported protocol level", publish_will=False)
            return
        client_id = request.client_id
        if not client_id:
            if not request.clean_session:
                self.write(mqtt.connack(False, mqtt.REFUSED_IDENTIFIER))  # §3.1.3-8
                self.close("empty client id with a persistent session", publish_will=False)
                return
            client_id = f"auto-{next(broker.auto_ids)}"
        identity: Principal | Refusal | None
        if self.tls:
            identity = broker.authenticate_certificate(self, client_id)
        else:
            identity = broker.identify(client_id, request.username, request.password)
        if identity is None:
            identity = Refusal(
                mqtt.REFUSED_BAD_CREDENTIALS
                if request.username == broker.service_username
                else mqtt.REFUSED_NOT_AUTHORIZED,
                "not a device and no service credential",
            )
        if isinstance(identity, Refusal):
            log.warning("refused CONNECT from %r (%s): %s", client_id, self.peer,
                        identity.reason)
            if identity.code is not None:
                self.write(mqtt.connack(False, identity.code))
            self.close("not authorized", publish_will=False)
            return
        if request.will_topic is not None:
            if request.will_qos > 1 or not mqtt.valid_topic_name(request.will_topic):
                log.warning("refused CONNECT from %r: Last Will QoS %d / topic %r not supported",
                            client_id, request.will_qos, request.will_topic)
                self.write(mqtt.connack(False, mqtt.REFUSED_NOT_AUTHORIZED))
                self.close("bad will", publish_will=False)
                return
            if not identity.may_publish(request.will_topic):
                log.warning("refused CONNECT from %r: Last Will topic %r is not its own",
                            client_id, request.will_topic)
                self.write(mqtt.connack(False, mqtt.REFUSED_NOT_AUTHORIZED))
                self.close("will topic not authorized", publish_will=False)
                return
            self.will = (
                request.will_topic,
                request.will_payload,
                request.will_qos,
                request.will_retain,
            )
        self.identity = identity
        self.keepalive = request.keepalive
        session, present = broker.attach(self, client_id, request.clean_session)
        session.receive = identity.may_receive if identity.checks_receive else None
        self.session = session
        self.write(mqtt.connack(present, mqtt.ACCEPTED))
        if present and session.inflight:
            # §4.4: resend unacknowledged QoS 1 messages with DUP set on session resumption.
            for packet in list(session.inflight.values()):
                self.write(bytes((packet[0] | 0x08,)) + packet[1:])

    def on_publish(self, flags: int, body: bytes) -> None:
        topic, payload, qos, packet_id, retain = mqtt.parse_publish(flags, body)
        if qos > 1:
            # IoT Core does not support QoS 2 and drops the connection that tries it.
            log.warning("%s published with QoS %d: not supported, disconnecting",
                        self.client_id, qos)
            self.close("QoS 2 publish")
            return
        if not mqtt.valid_topic_name(topic):
            self.close(f"invalid topic name {topic!r}")  # §3.3.2-2
            return
        assert self.identity is not None
        if not self.identity.may_publish(topic):
            log.warning("%s may not publish to %r: disconnecting (as IoT Core does)",
                        self.client_id, topic)
            self.close("publish not authorized")
            return
        if len(payload) > MAX_PAYLOAD:
            log.warning("%s published %d bytes to %r, over IoT Core's 128 KB: disconnecting",
                        self.client_id, len(payload), topic)
            self.close("payload too large")
            return
        broker = self.broker
        broker.origin = self
        try:
            broker.publish(topic, payload, qos, retain)
        finally:
            broker.origin = None
        if qos == 1 and not self.closed:
            self.write(mqtt.puback(packet_id))

    def on_subscribe(self, body: bytes) -> None:
        packet_id, filters = mqtt.parse_subscribe(body)
        assert self.session is not None and self.identity is not None
        codes: list[int] = []
        granted: list[str] = []
        for topic_filter, qos in filters:
            if qos > 2 or not mqtt.valid_topic_filter(topic_filter):
                codes.append(mqtt.SUBACK_FAILURE)
                continue
            if not self.identity.may_subscribe(topic_filter):
                if self.identity.strict:
                    log.warning("%s may not subscribe to %r: disconnecting (as IoT Core does)",
                                self.client_id, topic_filter)
                    self.close("subscribe not authorized")
                    return
                log.warning("%s may not subscribe to %r: refused", self.client_id, topic_filter)
                codes.append(mqtt.SUBACK_FAILURE)
                continue
            qos = min(qos, 1)
            self.broker.subscribe(self.session, topic_filter, qos)
            codes.append(qos)
            granted.append(topic_filter)
        self.write(mqtt.suback(packet_id, codes))
        for topic_filter in granted:
            self.broker.send_retained(self.session, topic_filter)


class Broker:
    """The broker. Run it with `await broker.start(host, port)`; stop with `await stop()`."""

    def __init__(self, service_username: str, service_password: str,
                 authenticator: Authenticator | None = None) -> None:
        self.service_username = service_username
        self.service_password = service_password
        self.authenticator = authenticator
        self.tree = TopicTree()
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.retained: dict[str, tuple[bytes, int]] = {}
        # topic -> (sessions with their granted QoS, listeners); cleared on any (un)subscribe.
        # Devices publish to the same few topics again and again, so most publishes skip the
        # tree walk; subscriptions change far less often than messages flow.
        self._routes: dict[str, tuple[list[tuple[Session, int]], list[Listener]]] = {}
        self.auto_ids = itertools.count(1)
        # The connection whose PUBLISH is being routed, for in-process listeners that answer
        # only the requester (IoT Core's fleet provisioning answers on the same connection).
        self.origin: Connection | None = None
        # Set by start(): connections read the loop's clock.
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._server: asyncio.AbstractServer | None = None
        self._tls_server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._rechecker: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self.loop = asyncio.get_running_loop()
        self._server = await self.loop.create_server(
            lambda: Connection(self), host, port, backlog=2048, reuse_address=True
        )
        self._sweeper = asyncio.create_task(self._sweep())
        bound = self._server.sockets[0].getsockname()
        return bound[0], bound[1]

    async def start_tls(self, host: str, port: int, context: ssl.SSLContext) -> tuple[str, int]:
        """The MQTT-over-TLS listener; needs the `authenticator`. Call after `start`."""
        if self.authenticator is None:
            raise ValueError("a TLS listener needs an authenticator")
        authenticator = self.authenticator

        def accept() -> Connection:
            # asyncio calls the factory before it wraps the socket, so the context can still
            # learn about CAs registered since the last connection.
            authenticator.before_handshake(context)
            return Connection(self, tls=True)

        self._tls_server = await self.loop.create_server(
            accept, host, port, ssl=context, backlog=2048, reuse_address=True,
            ssl_handshake_timeout=CONNECT_TIMEOUT,
        )
        self._rechecker = asyncio.create_task(self._recheck(authenticator))
        bound = self._tls_server.sockets[0].getsockname()
        return bound[0], bound[1]

    async def stop(self) -> None:
        for task in (self._sweeper, self._rechecker):
            if task is not None:
                task.cancel()
        servers = [s for s in (self._server, self._tls_server) if s is not None]
        for server in servers:
            server.close()
        for connection in list(self.connections):
            # Shutting down is not the clients' fault: no Last Will (IoT Core keeps them too).
            connection.close("broker stopping", publish_will=False)
        for server in servers:
            await server.wait_closed()

    async def _sweep(self) -> None:
        # One timer for every connection instead of a timeout per read: checks twice a second.
        while True:
            await asyncio.sleep(0.25)
            now = self.loop.time()
            for connection in list(self.connections):
                if connection.session is None:
                    if now - connection.opened > CONNECT_TIMEOUT:
                        connection.close("no CONNECT in time", publish_will=False)
                elif connection.keepalive and (
                    now - connection.last_seen > 1.5 * connection.keepalive
                ):
                    log.info("%s silent for 1.5 x keepalive (%ds): disconnecting",
                             connection.client_id, connection.keepalive)
                    connection.close("keepalive timeout")

    async def _recheck(self, authenticator: Authenticator) -> None:
        # A certificate deactivated or revoked while its device is connected: the connection
        # ends within a second (its Last Will goes out), as when an operator revokes it in AWS.
        while True:
            await asyncio.sleep(1.0)
            for connection in list(self.connections):
                identity = connection.identity
                if connection.tls and identity is not None:
                    reason = authenticator.revoked(identity)
                    if reason is not None:
                        log.warning("%s: %s, disconnecting", connection.client_id, reason)
                        connection.close(reason)

    # --- identity -------------------------------------------------------------------------------
    def identify(
        self, client_id: str, username: str | None, password: str | None
    ) -> Identity | None:
        """Who a client of the plain listener is: the service (its username and password), or
        a device (client id = thing name). Any other username is not a credential (AWS's
        device SDKs send `?SDK=...&Version=...` there) and is ignored."""
        if username is not None and username == self.service_username:
            if hmac.compare_digest((password or "").encode(), self.service_password.encode()):
                return Identity(service=True)
            return None
        if DEVICE_CLIENT_ID.fullmatch(client_id):
            return Identity(service=False, thing=client_id)
        return None

    def authenticate_certificate(self, connection: Connection,
                                 client_id: str) -> Principal | Refusal:
        assert self.authenticator is not None and connection.transport is not None
        ssl_object = connection.transport.get_extra_info("ssl_object")
        certificate = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        if not certificate:
            return Refusal(mqtt.REFUSED_NOT_AUTHORIZED, "no client certificate")
        try:
            return self.authenticator.authenticate(client_id, certificate)
        except Exception:
            log.exception("authenticating %r failed", client_id)
            return Refusal(mqtt.REFUSED_UNAVAILABLE, "authenticator failed")

    # --- sessions -------------------------------------------------------------------------------
    def attach(self, connection: Connection, client_id: str, clean: bool) -> tuple[Session, bool]:
        session = self.sessions.get(client_id)
        if session is not None and session.connection is not None:
            # IoT Core: a new connection with the same client id drops the old one.
            log.info("client id %r connected again: dropping the older connection", client_id)
            old = session.connection
            old.close("taken over by a new connection")
            session = self.sessions.get(client_id)
        if session is not None and clean:
            self.drop_session(session)
            session = None
        present = session is not None
        if session is None:
            session = Session(client_id, clean)
            self.sessions[client_id] = session
        session.clean = clean
        session.connection = connection
        return session, present

    def drop_session(self, session: Session) -> None:
        for topic_filter in list(session.subscriptions):
            self.unsubscribe(session, topic_filter)
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    def subscribe(self, session: Session, topic_filter: str, qos: int) -> None:
        self._routes.clear()
        session.subscriptions[topic_filter] = qos
        self.tree.node(topic_filter).sessions[session] = qos

    def unsubscribe(self, session: Session, topic_filter: str) -> None:
        if session.subscriptions.pop(topic_filter, None) is None:
            return
        self._routes.clear()
        node = self.tree.node(topic_filter)
        node.sessions.pop(session, None)
        self.tree.prune(topic_filter)

    def send_retained(self, session: Session, topic_filter: str) -> None:
        connection = session.connection
        if connection is None:
            return
        granted = session.subscriptions.get(topic_filter, 0)
        receive = session.receive
        for topic, (payload, qos) in self.retained.items():
            if mqtt.topic_matches(topic_filter, topic):
                if receive is not None and not receive(topic):
                    continue
                # §3.3.1.3: messages sent because of a new subscription carry RETAIN = 1.
                if min(qos, granted):
                    session.send_qos1(topic, payload, retain=True)
                else:
                    connection.write(mqtt.publish(topic, payload, retain=True))

    # --- in-process API -------------------------------------------------------------------------
    def add_listener(self, topic_filter: str, listener: Listener) -> None:
        """Call `listener(topic, payload)` for every message matching `topic_filter`."""
        self._routes.clear()
        self.tree.node(topic_filter).listeners.append(listener)

    def route(self, topic: str) -> tuple[list[tuple[Session, int]], list[Listener]]:
        """Who receives `topic`: each session once at its highest granted QoS (§3.3.5), and
        the in-process listeners."""
        cached = self._routes.get(topic)
        if cached is not None:
            return cached
        targets: dict[Session, int] = {}
        listeners: list[Listener] = []
        for node in self.tree.match(topic):
            for session, granted in node.sessions.items():
                if granted > targets.get(session, -1):
                    targets[session] = granted
            if node.listeners:
                listeners.extend(node.listeners)
        if len(self._routes) > 100_000:
            self._routes.clear()
        route = self._routes[topic] = (list(targets.items()), listeners)
        return route

    def wanted(self, topic: str) -> bool:
        targets, listeners = self.route(topic)
        return bool(targets or listeners)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Route a message to every matching subscription, then to in-process listeners."""
        if retain:
            # §3.3.1.3: a retained message with an empty payload removes the retained one.
            if payload:
                self.retained[topic] = (payload, qos)
            else:
                self.retained.pop(topic, None)
        targets, listeners = self.route(topic)
        qos0_packet: bytes | None = None
        for session, granted in targets:
            receive = session.receive
            if receive is not None and not receive(topic):
                continue  # iot:Receive denied: IoT Core silently does not deliver
            if qos and granted:
                session.send_qos1(topic, payload)
            else:
                connection = session.connection
                if connection is not None:
                    if qos0_packet is None:
                        qos0_packet = mqtt.publish(topic, payload)
                    connection.write(qos0_packet)
        for listener in listeners:
            try:
                listener(topic, payload)
            except Exception:
                log.exception("listener for %r failed", topic)

    def send_to(self, connection: Connection, topic: str, payload: bytes) -> bool:
        """Deliver `topic` to this one connection, if it is still open and subscribed to a
        matching filter (and may receive it). QoS is the highest granted."""
        session = connection.session
        if connection.closed or session is None or session.connection is not connection:
            return False
        granted = max((qos for topic_filter, qos in session.subscriptions.items()
                       if mqtt.topic_matches(topic_filter, topic)), default=None)
        if granted is None:
            return False
        if session.receive is not None and not session.receive(topic):
            return False
        if granted:
            session.send_qos1(topic, payload)
        else:
            connection.write(mqtt.publish(topic, payload))
        return True

    def connected_clients(self) -> Iterable[str]:
        return [s.client_id for s in self.sessions.values() if s.connection is not None]
