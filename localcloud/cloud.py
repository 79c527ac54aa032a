"""localcloud's runtime: broker (or an external one), shadow service, rules, HTTP API, moto.

Everything shadow-related runs on one asyncio event loop, so the shadow store needs no locks;
moto runs in its own thread (ThreadedMotoServer) and the SQS forwarding of the rule in another,
so a slow moto never blocks MQTT traffic outright. They still share the interpreter lock with
the event loop: whatever CPU moto spends delays every shadow request, which is why its SQS sends
are patched to cost the same whatever the queue's depth (localcloud/sqs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from localcloud import mqtt
from localcloud.broker import Broker
from localcloud.ca import LocalCA, server_names
from localcloud.client import ConnectionRefused, MQTTClient, parse_mqtt_url
from localcloud.http_api import HttpApi
from localcloud.iot import CertificateAuthenticator, answer_endpoint, use_local_ca
from localcloud.provisioning import FleetProvisioning, JustInTime, Template, load_handler
from localcloud.registry_state import RegistryFile
from localcloud.shadow import Outcome, ShadowStore, shadow_topic_root
from localcloud.sqs import sends_without_counting

log = logging.getLogger("localcloud")

DEFAULT_SERVICE_USERNAME = "smartlight-service"
DEFAULT_SERVICE_PASSWORD = "localcloud-service"
SHADOW_EVENTS_QUEUE = "smartlight-shadow-events"
# The region the shadow events queue is created in: the platform's AWS_REGION (same default).
REGION = os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))

Listener = Callable[[str, bytes], None]

REPO = Path(__file__).resolve().parent.parent
# The names the platform's settings use, with the same defaults.
DEVICE_POLICY = os.environ.get("IOT_DEVICE_POLICY", "smartlight-device")
CLAIM_POLICY = os.environ.get("IOT_CLAIM_POLICY", "smartlight-claim")
FLEET_TEMPLATE_NAME = os.environ.get("FLEET_TEMPLATE_NAME", "smartlight-fleet")
SERIALS_TABLE = os.environ.get("SERIALS_TABLE", "smartlight-serials")
THING_TYPE = "smartlight"

SHADOW_REQUEST_FILTERS = [
    f"$aws/things/+/shadow/{op}" for op in ("update", "get", "delete")
] + [f"$aws/things/+/shadow/name/+/{op}" for op in ("update", "get", "delete")]
LWT_FILTER = "smartlight/+/lwt"
DOCUMENTS_FILTER = "$aws/things/+/shadow/update/documents"


@dataclass
class Config:
    host: str = "127.0.0.1"
    mqtt_port: int = 18830
    http_port: int = 18443
    moto_port: int = 15000
    mqtt_url: str | None = None
    state_dir: Path | None = None
    service_username: str = DEFAULT_SERVICE_USERNAME
    service_password: str = DEFAULT_SERVICE_PASSWORD
    # Serve only the things whose name matches (lets several localclouds share one Mosquitto).
    things: str | None = None
    moto: bool = True
    queue_name: str = SHADOW_EVENTS_QUEUE
    # MQTT over TLS with client certificates (needs moto, for the registry, and our broker).
    mqtts_port: int | None = 18883
    # Where the local CA lives; default: <state_dir>/ca, or a temporary directory.
    ca_dir: Path | None = None
    device_policy: str = DEVICE_POLICY
    claim_policy: str = CLAIM_POLICY
    template_name: str = FLEET_TEMPLATE_NAME
    serials_table: str = SERIALS_TABLE
    fleet_template: Path | None = REPO / "deploy" / "fleet-template.json"
    provisioning_hook: Path | None = REPO / "lambda" / "provisioning_hook.py"
    jitr_handler: Path | None = REPO / "lambda" / "jitr_handler.py"


@dataclass
class Endpoints:
    mqtt_url: str
    http_url: str
    moto_url: str | None
    external_broker: bool = False
    mqtts_url: str | None = None
    ca_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Bus(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None: ...

    def listen(self, topic_filter: str, listener: Listener) -> None: ...

    def wanted(self, topic: str) -> bool:
        """Whether anyone could receive `topic` (False lets the service skip building it)."""
        ...


class BrokerBus:
    """The in-process broker: listeners run inside its routing, no network hop."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.broker.publish(topic, payload, qos, retain)

    def listen(self, topic_filter: str, listener: Listener) -> None:
        self.broker.add_listener(topic_filter, listener)

    def wanted(self, topic: str) -> bool:
        return self.broker.wanted(topic)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class ClientBus:
    """An external broker (Mosquitto): the shadow service and rules are one MQTT client of it.

    If the broker goes away the client reconnects with backoff (0.5 s doubling to 10 s) and
    subscribes again; messages published meanwhile are dropped, as IoT Core drops messages to
    subscribers that are not connected.
    """

    def __init__(self, url: str, config: Config) -> None:
        host, port, username, password = parse_mqtt_url(url)
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.client_id = f"localcloud-{uuid.uuid4().hex[:12]}"
        self.listeners: list[tuple[str, Listener]] = []
        self.client: MQTTClient | None = None
        self._stopping = False
        self._watcher: asyncio.Task[None] | None = None

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        if self.client is not None:
            self.client.publish(topic, payload, qos, retain)

    def listen(self, topic_filter: str, listener: Listener) -> None:
        self.listeners.append((topic_filter, listener))

    def wanted(self, topic: str) -> bool:
        return True  # the external broker's subscriptions are unknown to us

    def _dispatch(self, topic: str, payload: bytes) -> None:
        for topic_filter, listener in self.listeners:
            if mqtt.topic_matches(topic_filter, topic):
                try:
                    listener(topic, payload)
                except Exception:
                    log.exception("listener for %r failed", topic)

    async def _connect(self) -> None:
        client = MQTTClient(self.client_id, username=self.username, password=self.password,
                            keepalive=30, on_message=self._dispatch, quickack=True)
        await client.connect(self.host, self.port)
        filters = sorted({f for f, _ in self.listeners})
        granted = await client.subscribe([(f, 1) for f in filters])
        if mqtt.SUBACK_FAILURE in granted:
            client.abort()
            raise RuntimeError(f"{self.host}:{self.port} refused the subscriptions {filters}")
        self.client = client

    async def start(self) -> None:
        await self._connect()
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while not self._stopping:
            assert self.client is not None and self.client.closed is not None
            await asyncio.shield(self.client.closed)
            if self._stopping:
                return
            log.warning("lost the connection to %s:%d; reconnecting", self.host, self.port)
            delay = 0.5
            while not self._stopping:
                try:
                    await self._connect()
                    log.info("reconnected to %s:%d", self.host, self.port)
                    break
                except (OSError, TimeoutError, ConnectionRefused) as error:
                    log.warning("reconnecting to %s:%d failed: %s", self.host, self.port, error)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)

    async def stop(self) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
        if self.client is not None:
            await self.client.disconnect()


class ShadowService:
    """Device Shadow requests from MQTT and HTTP, answered by one ShadowStore."""

    def __init__(self, bus: Bus, store: ShadowStore, things: str | None) -> None:
        self.bus = bus
        self.store = store
        self.things = re.compile(things) if things else None
        for topic_filter in SHADOW_REQUEST_FILTERS:
            bus.listen(topic_filter, self.on_request)

    def serves(self, thing: str) -> bool:
        return self.things is None or bool(self.things.match(thing))

    def on_request(self, topic: str, payload: bytes) -> None:
        levels = topic.split("/")
        thing = levels[2]
        if not self.serves(thing):
            return
        name = levels[5] if len(levels) == 7 else ""
        op = levels[-1]
        if op == "update":
            documents = self.bus.wanted(shadow_topic_root(thing, name) + "update/documents")
            outcome = self.store.update(thing, name, payload, documents)
        elif op == "get":
            outcome = self.store.get(thing, name, payload)
        else:
            outcome = self.store.delete(thing, name, payload)
        self._publish(thing, name, outcome, include_rejected=True)

    def _publish(self, thing: str, name: str, outcome: Outcome, include_rejected: bool) -> None:
        root = shadow_topic_root(thing, name)
        for suffix, body in outcome.messages:
            if not include_rejected and suffix.endswith("/rejected"):
                continue
            self.bus.publish(root + suffix, body, 1)

    # --- HTTP data plane ----------------------------------------------------------------------
    def update(self, thing: str, name: str, payload: bytes) -> Outcome:
        documents = self.bus.wanted(shadow_topic_root(thing, name) + "update/documents")
        outcome = self.store.update(thing, name, payload, documents)
        # Over HTTP the caller gets the error in the response; AWS publishes no MQTT rejection
        # ("Device Shadow error messages"), but the accepted/delta/documents messages go out.
        self._publish(thing, name, outcome, include_rejected=False)
        return outcome

    def get(self, thing: str, name: str) -> Outcome:
        return self.store.get(thing, name)

    def delete(self, thing: str, name: str) -> Outcome:
        outcome = self.store.delete(thing, name)
        self._publish(thing, name, outcome, include_rejected=False)
        return outcome

    def list_named(self, thing: str) -> list[str]:
        return self.store.list_named(thing)

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.bus.publish(topic, payload, qos, retain)


IOT_COOKIE_TABLE = "iot_cookie"


def provision_resources(endpoint: str, config: Config | None = None) -> None:
    """Create what the CloudFormation stack creates in AWS (moto keeps nothing across restarts):
    the `iot_cookie` table (partition key `user_id`, String, on demand), the serials table
    (partition key `serial`), the thing type `smartlight`, the device policy and the fleet
    claim policy (from deploy/). Each only if missing."""
    import boto3

    config = config or Config()
    session = boto3.session.Session()
    kwargs = {"endpoint_url": endpoint, "region_name": REGION,
              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    dynamodb = session.client("dynamodb", **kwargs)
    for table, key in ((IOT_COOKIE_TABLE, "user_id"), (config.serials_table, "serial")):
        with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
            dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            )
    iot = session.client("iot", **kwargs)
    if THING_TYPE not in {t["thingTypeName"] for t in iot.list_thing_types()["thingTypes"]}:
        iot.create_thing_type(thingTypeName=THING_TYPE)
    deploy = REPO / "deploy"
    policies = {
        config.device_policy: deploy / "device-policy.json",
        config.claim_policy: deploy / "claim-policy.json",
    }
    existing = {p["policyName"] for p in iot.list_policies()["policies"]}
    for name, path in policies.items():
        if name not in existing and path.exists():
            document = path.read_text().replace("${TemplateName}", config.template_name)
            iot.create_policy(policyName=name, policyDocument=document)


def moto_client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing")


def load_fleet_template(config: Config) -> dict[str, Any] | None:
    """deploy/fleet-template.json with its one placeholder, the device policy's name."""
    if config.fleet_template is None or not config.fleet_template.exists():
        return None
    text = config.fleet_template.read_text().replace("${DevicePolicyName}", config.device_policy)
    body: dict[str, Any] = json.loads(text)
    return body


def lambda_environment(moto_url: str, config: Config) -> None:
    """What the in-process Lambdas (the provisioning hook, JITR) find in their environment: in
    AWS the runtime's role and region; here moto."""
    os.environ["AWS_ENDPOINT_URL"] = moto_url
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    os.environ["SERIALS_TABLE"] = config.serials_table
    os.environ["IOT_DEVICE_POLICY"] = config.device_policy


class SqsForwarder:
    """Sends rule output to an SQS queue from a thread, batched by ten (SendMessageBatch).

    The queue is made through moto's API like any other. The batches go to moto's SQS backend
    in this process, as IoT's rules engine hands them to SQS inside AWS: through moto's HTTP
    front end (a boto3 request, werkzeug and Flask) a batch cost about eight times the send
    itself, CPU the data plane sharing the process then waited for.
    """

    def __init__(self, endpoint: str, queue_name: str) -> None:
        import boto3
        from moto.sqs.models import sqs_backends

        sqs = boto3.session.Session().client(
            "sqs", endpoint_url=endpoint, region_name=REGION,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        self.queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        self.queue_name = queue_name
        # .../<account>/<queue name>: the backend that answers the platform's calls.
        account = self.queue_url.rstrip("/").split("/")[-2]
        self.backend = sqs_backends[account][REGION]
        self.pending: queue.Queue[bytes | None] = queue.Queue(maxsize=100_000)
        self.sent = 0
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, name="localcloud-sqs", daemon=True)
        self.thread.start()

    def put(self, body: bytes) -> None:
        try:
            self.pending.put_nowait(body)
        except queue.Full:
            self.dropped += 1
            log.warning("SQS forwarding is behind: dropped a shadow event")

    def _run(self) -> None:
        while True:
            item = self.pending.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < 10:
                try:
                    nxt = self.pending.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._send(batch)
                    return
                batch.append(nxt)
            self._send(batch)

    def _send(self, batch: list[bytes]) -> None:
        # SendMessageBatch's entries as moto's API layer hands them to the backend.
        entries = {
            str(i): {"Id": str(i), "MessageBody": body.decode(), "MessageAttributes": {},
                     "DelaySeconds": None}
            for i, body in enumerate(batch)
        }
        try:
            messages, failed = self.backend.send_message_batch(self.queue_name, entries)
        except Exception:
            log.exception("sending %d shadow events to SQS failed", len(batch))
            return
        self.sent += len(messages)
        if failed:
            log.error("SQS refused %d of %d shadow events: %s", len(failed), len(batch), failed)

    def stop(self) -> None:
        self.pending.put(None)
        self.thread.join(timeout=10)


class Rules:
    """The two IoT rules of the device contract (docs/device-contract.md)."""

    def __init__(self, bus: Bus, service: ShadowService,
                 forward: Callable[[bytes], None] | None) -> None:
        self.bus = bus
        self.service = service
        self.forward = forward
        bus.listen(LWT_FILTER, self.smartlight_lwt)
        if forward is not None:
            bus.listen(DOCUMENTS_FILTER, self.smartlight_shadow_events)

    def smartlight_lwt(self, topic: str, payload: bytes) -> None:
        # SELECT * FROM 'smartlight/+/lwt' -> republish to $$aws/things/${topic(2)}/shadow/update
        thing = topic.split("/")[1]
        if self.service.serves(thing):
            self.bus.publish(f"$aws/things/{thing}/shadow/update", payload, 1)

    def smartlight_shadow_events(self, topic: str, payload: bytes) -> None:
        # SELECT *, topic(3) AS thing FROM '$aws/things/+/shadow/update/documents' -> SQS.
        thing = topic.split("/")[2]
        if not self.service.serves(thing) or self.forward is None:
            return
        body = payload.strip()
        if not (body.startswith(b"{") and body.endswith(b"}")):
            return  # SELECT * on a payload that is not a JSON object yields no message
        # Splice the extra key in rather than decoding and re-encoding every document.
        extra = b'"thing":' + json.dumps(thing).encode()
        inner = body[1:-1].strip()
        self.forward(b"{" + inner + b"," + extra + b"}" if inner else b"{" + extra + b"}")


class StateFile:
    """Shadows on disk: rewritten at most every `interval` s, atomically (tmp file + rename)."""

    def __init__(self, directory: Path, store: ShadowStore, interval: float = 0.2) -> None:
        self.path = directory / "shadows.json"
        self.directory = directory
        self.store = store
        self.interval = interval
        self._scheduled: asyncio.TimerHandle | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def load(self) -> None:
        if self.path.exists():
            self.store.restore(json.loads(self.path.read_text()))
            log.info("loaded %d shadows from %s", len(self.store.shadows), self.path)

    def changed(self) -> None:
        if self._scheduled is None:
            loop = asyncio.get_running_loop()
            self._scheduled = loop.call_later(self.interval, self.flush)

    def flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        data = json.dumps(self.store.snapshot(), separators=(",", ":")).encode()
        # Write beside the target, fsync, then rename: a crash leaves the old or the new file,
        # never a torn one (rename is atomic on POSIX).
        fd, tmp = tempfile.mkstemp(prefix=".shadows-", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class LocalCloud:
    """Start with `await cloud.start()`, stop with `await cloud.stop()` (same event loop)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = ShadowStore()
        self.broker: Broker | None = None
        self.bus: BrokerBus | ClientBus | None = None
        self.http: HttpApi | None = None
        self.moto: Any = None
        self.forwarder: SqsForwarder | None = None
        self.state: StateFile | None = None
        self.endpoints: Endpoints | None = None
        self.ca: LocalCA | None = None
        self.authenticator: CertificateAuthenticator | None = None
        self.fleet: FleetProvisioning | None = None
        self.registry: RegistryFile | None = None
        self._registry_saver: asyncio.Task[None] | None = None
        self._temporary_ca_dir: str | None = None

    def _ca_dir(self) -> Path:
        config = self.config
        if config.ca_dir is not None:
            return Path(config.ca_dir)
        if config.state_dir is not None:
            return Path(config.state_dir) / "ca"
        self._temporary_ca_dir = tempfile.mkdtemp(prefix="localcloud-ca-")
        return Path(self._temporary_ca_dir)

    async def start(self) -> Endpoints:
        config = self.config
        if config.state_dir is not None:
            self.state = StateFile(Path(config.state_dir), self.store)
            self.state.load()
            self.store.on_change = self.state.changed

        tls = config.moto and not config.mqtt_url and config.mqtts_port is not None
        if tls:
            self.ca = await asyncio.to_thread(LocalCA, self._ca_dir())
            use_local_ca(self.ca)
            self.authenticator = CertificateAuthenticator(self.ca)
        if config.moto and config.state_dir is not None:
            self.registry = RegistryFile(Path(config.state_dir),
                                         [config.serials_table, IOT_COOKIE_TABLE])
            await asyncio.to_thread(self.registry.load)
            self._registry_saver = asyncio.create_task(self._save_registry())

        moto_url = None
        if config.moto:
            moto_url = await asyncio.to_thread(self._start_moto)
            await asyncio.to_thread(provision_resources, moto_url, config)
            if self.registry is not None:
                await asyncio.to_thread(self.registry.load_tables, moto_client("dynamodb",
                                                                               moto_url))
            lambda_environment(moto_url, config)
            self.forwarder = await asyncio.to_thread(SqsForwarder, moto_url, config.queue_name)

        mqtts_url = None
        if config.mqtt_url:
            self.bus = ClientBus(config.mqtt_url, config)
            mqtt_url = f"mqtt://{self.bus.host}:{self.bus.port}"
        else:
            self.broker = Broker(config.service_username, config.service_password,
                                 self.authenticator)
            self.bus = BrokerBus(self.broker)
        # The shadow service and the rules listen before the broker takes its first client: a
        # light that connects at once must find its `get` answered, as it would on IoT Core.
        service = ShadowService(self.bus, self.store, config.things)
        Rules(self.bus, service, self.forwarder.put if self.forwarder else None)
        if self.broker is not None:
            host, port = await self.broker.start(config.host, config.mqtt_port)
            mqtt_url = f"mqtt://{host}:{port}"
            if self.ca is not None and config.mqtts_port is not None:
                self._provisioning_services()
                context = await asyncio.to_thread(
                    self.ca.server_context, server_names(config.host))
                tls_host, tls_port = await self.broker.start_tls(
                    config.host, config.mqtts_port, context)
                mqtts_url = f"mqtts://{tls_host}:{tls_port}"
                answer_endpoint("localhost" if tls_host in ("0.0.0.0", "::") else tls_host)  # noqa: S104
        await self.bus.start()

        self.http = HttpApi(service)
        host, port = await self.http.start(config.host, config.http_port)
        self.endpoints = Endpoints(
            mqtt_url=mqtt_url,
            http_url=f"http://{host}:{port}",
            moto_url=moto_url,
            external_broker=bool(config.mqtt_url),
            mqtts_url=mqtts_url,
            ca_path=self.ca.cert_path if self.ca is not None and mqtts_url else None,
        )
        return self.endpoints

    async def _save_registry(self) -> None:
        assert self.registry is not None
        while True:
            await asyncio.sleep(2.0)
            try:
                await asyncio.to_thread(self.registry.save)
            except Exception:
                log.exception("saving the IoT registry failed")

    def _provisioning_services(self) -> None:
        config = self.config
        assert self.broker is not None and self.authenticator is not None
        fleet: dict[str, Template] = {}
        body = load_fleet_template(config)
        if body is not None:
            hook = None
            if config.provisioning_hook is not None and config.provisioning_hook.exists():
                hook = load_handler(config.provisioning_hook)
            fleet[config.template_name] = Template(config.template_name, body, hook)
        self.fleet = FleetProvisioning(self.broker, fleet)
        jitr = None
        if config.jitr_handler is not None and config.jitr_handler.exists():
            jitr = load_handler(config.jitr_handler)
        self.authenticator.on_unregistered = JustInTime(self.broker, self.authenticator.registry,
                                                        jitr)

    def _start_moto(self) -> str:
        from moto.server import ThreadedMotoServer

        sends_without_counting()
        self.moto = ThreadedMotoServer(
            ip_address=self.config.host, port=self.config.moto_port, verbose=False
        )
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        return f"http://{host}:{port}"

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.stop()
        if self.broker is not None:
            await self.broker.stop()
        if isinstance(self.bus, ClientBus):
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(self.bus.stop(), 5)
        if self.state is not None:
            self.state.flush()
        if self._registry_saver is not None:
            self._registry_saver.cancel()
        if self.registry is not None:
            await asyncio.to_thread(self.registry.save)
        if self.forwarder is not None:
            await asyncio.to_thread(self.forwarder.stop)
        if self.moto is not None:
            await asyncio.to_thread(self.moto.stop)
        if self._temporary_ca_dir is not None:
            shutil.rmtree(self._temporary_ca_dir, ignore_errors=True)
