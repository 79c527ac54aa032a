# First boot by AWS IoT fleet provisioning: a light that holds only the claim certificate asks
# for its own (CreateKeysAndCertificate), registers itself under its serial (RegisterThing) and
# stores the new key and certificate in /certs, then connects as itself.
#
# Power cuts: the key is written first, the certificate only once RegisterThing accepted, each
# through a temp file and a rename. The certificate's presence is what marks a provisioned
# light, so a cut at any step leaves a light that simply provisions again (a fresh key and
# certificate; the abandoned ones stay inactive in AWS IoT).
import json
import os

import store

CREATE = "$aws/certificates/create/json"
WAIT_MS = 30000
CERT = "certificate.pem.crt"
KEY = "private.pem.key"
CLAIM_CERT = "claim.pem.crt"
CLAIM_KEY = "claim.private.pem.key"


def template_topic(template):
    return "$aws/provisioning-templates/" + template + "/provision/json"


def certs_path(root, cfg, name):
    return store.path(root, cfg["certs"] + "/" + name)


def exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def needed(root, cfg):
    """True for a factory-state light: a claim certificate and no certificate of its own."""
    return not exists(certs_path(root, cfg, CERT)) and exists(certs_path(root, cfg, CLAIM_CERT))


def write_atomic(p, data):
    tmp = p + ".tmp"
    with open(tmp, "w") as f:
        f.write(data)
    try:
        os.rename(tmp, p)
    except OSError:  # FAT cannot rename over an existing file
        try:
            os.remove(p)
        except OSError:
            pass
        os.rename(tmp, p)


class Exchange:
    """Request/response over MQTT: the answer to a request lands on <topic>/accepted or
    <topic>/rejected (AWS IoT fleet provisioning MQTT API)."""

    def __init__(self, mqtt_mod):
        self.mqtt = mqtt_mod
        self.answers = {}

    def on_message(self, topic, msg):
        if type(topic) is bytes:
            topic = topic.decode()
        self.answers[topic] = msg

    async def call(self, client, topic, doc):
        self.answers = {}
        await client.publish(topic, json.dumps(doc), False, 1)
        waited = 0
        while waited < WAIT_MS:
            ok = self.answers.get(topic + "/accepted")
            if ok is not None:
                return json.loads(ok)
            bad = self.answers.get(topic + "/rejected")
            if bad is not None:
                raise RuntimeError(topic + " rejected: " + _error(bad))
            if not client.connected:
                raise RuntimeError("link lost: " + str(client.why))
            await self.mqtt.sleep_ms(50)
            waited += 50
        raise RuntimeError("no answer on " + topic)


def _error(msg):
    try:
        doc = json.loads(msg)
        return str(doc.get("statusCode")) + " " + str(doc.get("errorCode")) + " " + str(
            doc.get("errorMessage")
        )
    except Exception:
        return repr(msg)[:80]


async def run(client, root, cfg, log):
    """Provision over an unconnected client that carries the claim certificate."""
    import mqtt

    serial = cfg.get("serial")
    template = cfg.get("template")
    if type(serial) is not str or not serial or type(template) is not str or not template:
        raise RuntimeError("config: fleet provisioning needs serial and template")
    ex = Exchange(mqtt)
    client.set_callback(ex.on_message)
    await client.connect()
    register = template_topic(template)
    for topic in (CREATE, register):
        await client.subscribe(topic + "/accepted", 1)
        await client.subscribe(topic + "/rejected", 1)
    log("provision: asking for a certificate")
    created = await ex.call(client, CREATE, {})
    cert = created.get("certificatePem")
    key = created.get("privateKey")
    token = created.get("certificateOwnershipToken")
    if type(cert) is not str or type(key) is not str or type(token) is not str:
        raise RuntimeError("CreateKeysAndCertificate answered without certificate or key")
    write_atomic(certs_path(root, cfg, KEY), key)
    log("provision: registering serial", serial)
    done = await ex.call(
        client,
        register,
        {"certificateOwnershipToken": token, "parameters": {"SerialNumber": serial}},
    )
    write_atomic(certs_path(root, cfg, CERT), cert)
    log("provision: registered as", done.get("thingName"), created.get("certificateId"))
    await client.disconnect()
    return done
