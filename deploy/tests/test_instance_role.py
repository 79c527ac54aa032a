"""The web instances' role allows every AWS call the platform makes, on the resources it touches.

The stack is deployed into moto, the platform's settings point at its outputs, and the platform's
own flows run (provisioning, claiming, removal, the admin's revoke, maker CAs, the iot_cookie and
schedule mirrors, the consumer, mail, secrets, Celery's queue). Every AWS call is recorded through
botocore's event system, mapped to its IAM action and the ARN it touches, and checked against the
statements of the InstanceRole in deploy/smartlight.yaml by a small IAM evaluator.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from django.core.management import call_command

from deploy import env as deploy_env
from deploy.tests.test_stack import ACCOUNT, REGION, deploy, template

# moto names each resource type its CloudFormation cannot create; cfn-lint checks those.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

ENVIRONMENT = "prod"
DOMAIN = f"{ENVIRONMENT}.lights.example.com"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
          "EnvironmentName": ENVIRONMENT, "DomainName": DOMAIN}
# The IAM prefix of services whose boto3 name is not it.
IAM_PREFIX = {"iot-data": "iot", "sesv2": "ses"}
# SQS's batch operations are authorised as the single one (SQS has no IAM action for them).
IAM_ACTION = {"sqs:DeleteMessageBatch": "sqs:DeleteMessage",
              "sqs:SendMessageBatch": "sqs:SendMessage",
              "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}


# --- the role's policy, resolved to ARN patterns ---------------------------------------------
@cache
def _resources() -> dict:
    return template()["Resources"]


def _arn(resource: dict, logical: str) -> str:
    kind, props = resource["Type"], resource.get("Properties", {})
    name = _resolve(next((props[k] for k in ("TableName", "QueueName", "RoleName", "BucketName",
                                              "Name", "FunctionName") if k in props), logical))
    if kind == "AWS::DynamoDB::Table":
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    if kind == "AWS::SQS::Queue":
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    if kind == "AWS::IAM::Role":
        return f"arn:aws:iam::{ACCOUNT}:role/{name}"
    if kind == "AWS::S3::Bucket":
        return f"arn:aws:s3:::{name}"
    if kind == "AWS::SecretsManager::Secret":
        # Secrets Manager appends a dash and six random characters to the name.
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-??????"
    if kind == "AWS::Lambda::Function":
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    raise AssertionError(f"no ARN rule for {logical} ({kind})")


def _resolve(value: Any) -> Any:
    """!Sub, !GetAtt X.Arn and !Ref of the template as the strings AWS would make."""
    resources = _resources()
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]

        def fill(match: re.Match) -> str:
            key = match.group(1)
            if key in PSEUDO:
                return PSEUDO[key]
            logical, _, attr = key.partition(".")
            assert attr == "Arn", key
            return _arn(resources[logical], logical)

        return re.sub(r"\$\{(?!!)([^}]+)\}", fill, text).replace("${!", "${")
    if "Fn::GetAtt" in value:
        logical, attr = value["Fn::GetAtt"]
        assert attr == "Arn", value
        return _arn(resources[logical], logical)
    if "Ref" in value:
        ref = value["Ref"]
        if ref in PSEUDO:
            return PSEUDO[ref]
        kind = resources[ref]["Type"]
        assert kind == "AWS::SecretsManager::Secret", f"Ref {ref} ({kind}) is not an ARN"
        return _arn(resources[ref], ref)
    raise AssertionError(f"cannot resolve {value}")


def instance_statements() -> list[dict]:
    role = template()["Resources"]["InstanceRole"]["Properties"]
    statements = []
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            resolved = dict(statement)
            resolved["Action"] = _listed(statement["Action"])
            resolved["Resource"] = _listed(_resolve(statement["Resource"]))
            statements.append(resolved)
    return statements


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, text: str, case: bool = True) -> bool:
    """IAM's matching: `*` any run of characters, `?` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, 0 if case else re.IGNORECASE) is not None


@dataclass(frozen=True)
class Call:
    flow: str
    action: str  # service:Operation, as IAM names it
    resource: str | None  # the ARN the call touches, when it can be computed
    context: tuple[tuple[str, str], ...] = ()  # condition keys (iam:PassedToService)

    def __str__(self) -> str:
        return f"{self.action} on {self.resource or '*'}"


def allowed(call: Call, statements: list[dict]) -> bool:
    """Some Allow statement names the action and the resource (and its conditions hold)."""
    context = dict(call.context)
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        if not any(_wildcard(a, call.action, case=False) for a in statement["Action"]):
            continue
        if call.resource is None:
            # The ARN is unknown: only a statement on every resource is sure to cover it.
            if "*" not in statement["Resource"]:
                continue
        elif not any(_wildcard(r, call.resource) for r in statement["Resource"]):
            continue
        conditions = statement.get("Condition", {})
        if any(op != "StringEquals" for op in conditions):
            continue
        if all(context.get(key) in _listed(expected)
               for key, expected in conditions.get("StringEquals", {}).items()):
            return True
    return False


# --- the recorder -----------------------------------------------------------------------------
def _iot(kind: str, name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:{kind}/{name}"


def _cert_arn(params: dict) -> str | None:
    if "certificateId" in params:
        return _iot("cert", params["certificateId"])
    target = params.get("target") or params.get("principal")
    return target if target and ":cert/" in target else None


def resource_of(service: str, operation: str, params: dict) -> str | None:
    """The ARN an operation touches, by the resource types of the Service Authorization
    Reference; None when the action has no resource type (account-wide)."""
    if service in ("iot", "iot-data"):
        if operation == "Publish":
            return _iot("topic", params["topic"])
        if operation in ("AttachPolicy", "DetachPolicy", "ListAttachedPolicies",
                         "DescribeCertificate", "UpdateCertificate", "DeleteCertificate"):
            return _cert_arn(params)
        if "thingName" in params:
            return _iot("thing", params["thingName"])
        if "thingTypeName" in params:
            return _iot("thingtype", params["thingTypeName"])
        if operation == "GetPolicy":
            return _iot("policy", params["policyName"])
        if operation == "CreateProvisioningClaim":
            return _iot("provisioningtemplate", params["templateName"])
        return None
    if service == "dynamodb":
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{params['TableName']}"
    if service == "sqs":
        name = params.get("QueueName") or params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    if service == "events":
        if operation == "ListRules":
            return None
        return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{params.get('Name') or params['Rule']}"
    if service == "scheduler":
        if operation == "ListSchedules":
            return None
        group = params.get("GroupName", "default")
        return f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/{params['Name']}"
    if service == "secretsmanager":
        return params["SecretId"]
    if service == "sesv2":
        sender = params["FromEmailAddress"].rsplit("@", 1)[-1].rstrip(">")
        return f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{sender}"
    return None


def passed_roles(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
    """iam:PassRole that AWS checks for the call: (role ARN, the service it is passed to)."""
    if service == "scheduler" and operation in ("CreateSchedule", "UpdateSchedule"):
        return [(params["Target"]["RoleArn"], "scheduler.amazonaws.com")]
    if service == "events" and operation == "PutTargets":
        return [(t["RoleArn"], "events.amazonaws.com") for t in params["Targets"] if "RoleArn" in t]
    if service == "iot" and operation == "RegisterCACertificate":
        role = params.get("registrationConfig", {}).get("roleArn")
        return [(role, "iot.amazonaws.com")] if role else []
    return []


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)
    flow: str | None = None

    def on_call(self, params: dict, model: Any, **_: Any) -> None:
        if self.flow is None:
            return
        service = model.service_model.service_name
        prefix = IAM_PREFIX.get(service, service)
        action = f"{prefix}:{model.name}"
        self.calls.append(Call(self.flow, IAM_ACTION.get(action, action),
                               resource_of(service, model.name, params)))
        for role, to in passed_roles(service, model.name, params):
            self.calls.append(Call(self.flow, "iam:PassRole", role,
                                   (("iam:PassedToService", to),)))

    @contextmanager
    def recording(self, flow: str) -> Iterator[None]:
        self.flow = flow
        try:
            yield
        finally:
            self.flow = None

    def actions(self, flow: str) -> set[str]:
        return {c.action for c in self.calls if c.flow == flow}


@pytest.fixture
def recorder(aws, monkeypatch) -> Recorder:
    """Records the calls of every botocore client made from now on: the factory's (its cache is
    emptied) and those libraries build themselves (kombu's SQS channel)."""
    found = Recorder()
    create_client = botocore.session.Session.create_client

    def recording_client(self, *args, **kwargs):
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("provide-client-params.*.*", found.on_call)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", recording_client)
    aws.reset_clients()
    yield found
    aws.reset_clients()  # no recording client outlives the test


# --- the stack the flows run on ----------------------------------------------------------------
@pytest.fixture
def stack(aws, recorder, settings, tmp_path) -> dict[str, str]:
    """The prod stack in moto, the platform's settings from its outputs (as deploy/env.py
    writes them), SES's identity verified and a server CA file for bundles."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="smartlight-code")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        for name in ("schedule_handler.py", "provisioning_hook.py", "jitr_handler.py"):
            archive.writestr(name, "def handler(event, context):\n    return None\n")
    s3.put_object(Bucket="smartlight-code", Key="lambda.zip", Body=package.getvalue())
    outputs = deploy(boto3.client("cloudformation", region_name=REGION), ENVIRONMENT)
    # moto's CloudFormation makes no secrets: made here under the names the stack gives them.
    secrets = boto3.client("secretsmanager", region_name=REGION)
    for output, name in (("SecretKeyArn", "secret-key"),
                         ("CognitoClientSecretArn", "cognito-client-secret")):
        outputs[output] = secrets.create_secret(Name=f"smartlight/{ENVIRONMENT}/{name}",
                                                SecretString="s3cret")["ARN"]
    for output, name in deploy_env.OUTPUT_SETTINGS.items():
        if output not in outputs or name in ("ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"):
            continue  # Cognito is not in moto's CloudFormation; the test client is testserver
        setattr(settings, name, outputs[output])
    # AWS's Ref of an IoT policy is its name (moto answers the object's repr).
    settings.IOT_DEVICE_POLICY = f"smartlight-{ENVIRONMENT}-device"
    settings.IOT_CLAIM_POLICY = f"smartlight-{ENVIRONMENT}-claim"
    settings.AWS_MODE = "aws"
    settings.IOT_THING_TYPE = "smartlight"
    ca = tmp_path / "server-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n")
    settings.IOT_SERVER_CA_FILE = str(ca)
    settings.IOT_MQTT_HOST = outputs["IotEndpoint"]
    settings.IOT_MQTT_PORT = 8883
    boto3.client("ses", region_name=REGION).verify_domain_identity(Domain=DOMAIN)
    return outputs


CODE = "ABCDE-FGHJK"
THING = "sl-0123456789ab"


def _made_serial(serial: str = THING[3:]):
    from django.utils import timezone

    from devices import claims
    from devices.models import Serial

    return Serial.objects.create(serial=serial, method="fleet", code_hash=claims.code_hash(CODE),
                                 code_expires=timezone.now() + timedelta(days=30))


def _provisioned(thing: str, settings) -> str:
    """What fleet provisioning leaves in AWS (made by AWS IoT, not the instance)."""
    iot = boto3.client("iot", region_name=REGION)
    iot.create_thing(thingName=thing, thingTypeName="smartlight",
                     attributePayload={"attributes": {"serial": thing[3:]}})
    cert = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName=settings.IOT_DEVICE_POLICY, target=cert["certificateArn"])
    iot.attach_thing_principal(thingName=thing, principal=cert["certificateArn"])
    boto3.client("iot-data", region_name=REGION).update_thing_shadow(
        thingName=thing, payload=json.dumps({"state": {"reported": {"on": True}}}))
    return cert["certificateId"]


def _claimed(recorder, client_for, alice, settings, capture):
    """A fleet light claimed into alice's home (the claim itself recorded as "claim")."""
    from devices.models import Device

    _made_serial()
    _provisioned(THING, settings)
    with recorder.recording("claim"), capture(execute=True):
        response = client_for(alice).post("/api/v1/claims", {"code": CODE},
                                          content_type="application/json")
    assert response.status_code == 201, response.content
    return Device.objects.get(thing_name=THING)


def _operator():
    from django.test import Client

    from accounts.models import User

    client = Client()
    operator = User.objects.create_superuser("ops@example.com", "pw")
    client.force_login(operator, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _maker_ca(tmp_path) -> tuple[Path, Path]:
    from localcloud.tests.tls import MakerCA, key_pem

    ca = MakerCA()
    cert, key = tmp_path / "maker-ca.pem", tmp_path / "maker-ca.key"
    cert.write_text(ca.pem)
    key.write_text(key_pem(ca.key))
    return cert, key


# --- the flows ---------------------------------------------------------------------------------
def flow_provision_device(ctx) -> None:
    with ctx.recorder.recording("provision_device"):
        call_command("provision_device", "--home", str(ctx.home.code), "--name", "Desk strip",
                     "--out", str(ctx.tmp_path / "bundle"))


def flow_provision_batch_fleet(ctx) -> None:
    with ctx.recorder.recording("provision_batch --method fleet"):
        call_command("provision_batch", "--count", "2", "--out", str(ctx.tmp_path / "batch"),
                     "--method", "fleet", "--portal", "https://lights.example.com",
                     stdout=io.StringIO(), stderr=io.StringIO())


def flow_claim(ctx) -> None:
    _claimed(ctx.recorder, ctx.client_for, ctx.alice, ctx.settings, ctx.capture)


def flow_remove(ctx) -> None:
    device = _claimed(ctx.recorder, ctx.client_for, ctx.alice, ctx.settings, ctx.capture)
    with ctx.recorder.recording("remove a light"), ctx.capture(execute=True):
        response = ctx.client_for(ctx.alice).delete(f"/api/v1/devices/{device.code}")
    assert response.status_code == 204


def flow_admin_revoke(ctx) -> None:
    device = _claimed(ctx.recorder, ctx.client_for, ctx.alice, ctx.settings, ctx.capture)
    operator = _operator()
    with ctx.recorder.recording("admin revoke"):
        response = operator.post(f"/admin/devices/device/{device.pk}/command/revoke/")
    assert response.status_code == 302
    status = boto3.client("iot", region_name=REGION).describe_certificate(
        certificateId=device.certificate_id)["certificateDescription"]["status"]
    assert status == "REVOKED"


def flow_admin_delete(ctx) -> None:
    device = _claimed(ctx.recorder, ctx.client_for, ctx.alice, ctx.settings, ctx.capture)
    operator = _operator()
    with ctx.recorder.recording("admin delete"), ctx.capture(execute=True):
        response = operator.post(f"/admin/devices/device/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302


def flow_register_maker_ca_jitp(ctx) -> None:
    cert, key = _maker_ca(ctx.tmp_path)
    role = ctx.stack_role_arn("ProvisioningRole")
    with ctx.recorder.recording("register_maker_ca jitp"):
        call_command("register_maker_ca", "--ca-cert", str(cert), "--ca-key", str(key),
                     "--method", "jitp", "--role-arn", role, stdout=io.StringIO())


def flow_register_maker_ca_jitr(ctx) -> None:
    cert, key = _maker_ca(ctx.tmp_path)
    with ctx.recorder.recording("register_maker_ca jitr"):
        call_command("register_maker_ca", "--ca-cert", str(cert), "--ca-key", str(key),
                     "--method", "jitr", stdout=io.StringIO())


def flow_iot_cookie_push(ctx) -> None:
    from accounts import iot_cookie

    with ctx.recorder.recording("iot_cookie push"):
        iot_cookie.push(ctx.alice.iot_user_id)
        iot_cookie.remote_items()


def _schedule_flow(ctx, backend: str) -> None:
    from schedules import actions, mirror
    from schedules.tests.conftest import weekly_raw

    ctx.settings.SCHEDULE_BACKEND = backend
    # The prefix is read once at import; in AWS it comes from the stack (smartlight-<env>-).
    ctx.monkeypatch.setattr(mirror, "NAME_PREFIX", ctx.stack["ScheduleNamePrefix"])
    from devices.models import Device

    lamp = Device.objects.create(home=ctx.home, name="Bed lamp", thing_name="sl-0000000000b1")
    raw = weekly_raw(lamp)
    with ctx.recorder.recording(f"schedule mirror ({backend})"), ctx.capture(execute=True):
        data = actions.clean_schedule(ctx.home, raw)
        schedule = actions.do_create_schedule(ctx.home, data)
    assert mirror.actual_spec(str(schedule.code), backend) is not None
    with ctx.recorder.recording(f"schedule mirror ({backend})"), ctx.capture(execute=True):
        actions.do_delete_schedule(schedule)
        mirror.remote_codes(backend)
    assert mirror.actual_spec(str(schedule.code), backend) is None


def _reconcile_flow(ctx, backend: str) -> None:
    """A schedule whose remote copy went missing: reconcile_schedules --fix writes it again."""
    from devices.models import Device
    from schedules import actions, mirror
    from schedules.tests.conftest import weekly_raw

    ctx.settings.SCHEDULE_BACKEND = backend
    ctx.monkeypatch.setattr(mirror, "NAME_PREFIX", ctx.stack["ScheduleNamePrefix"])
    lamp = Device.objects.create(home=ctx.home, name="Bed lamp", thing_name="sl-0000000000b1")
    with ctx.capture(execute=True):
        schedule = actions.do_create_schedule(
            ctx.home, actions.clean_schedule(ctx.home, weekly_raw(lamp)))
    name = mirror.mirror_name(schedule.code)
    if backend == "rules":
        events = boto3.client("events", region_name=REGION)
        events.remove_targets(Rule=name, Ids=[mirror.TARGET_ID])
        events.delete_rule(Name=name)
    else:
        boto3.client("scheduler", region_name=REGION).delete_schedule(Name=name)
    with ctx.recorder.recording(f"reconcile_schedules --fix ({backend})"):
        call_command("reconcile_schedules", "--fix", stdout=io.StringIO())
    assert mirror.drift(str(schedule.code)) is None  # the backend of the settings


def flow_reconcile_rules(ctx) -> None:
    _reconcile_flow(ctx, "rules")


def flow_reconcile_scheduler(ctx) -> None:
    _reconcile_flow(ctx, "scheduler")


def flow_reconcile_iot_cookie(ctx) -> None:
    with ctx.recorder.recording("reconcile_iot_cookie --fix"):
        call_command("reconcile_iot_cookie", "--fix", stdout=io.StringIO(),
                     stderr=io.StringIO())
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=ctx.settings.IOT_COOKIE_TABLE, Key={"user_id": {"S": ctx.alice.iot_user_id}})
    assert "Item" in item


def flow_failed_provisioning(ctx) -> None:
    """The bundle cannot be written: what was made in AWS is taken back."""
    from django.core.management import CommandError

    from devices import provisioning

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    ctx.monkeypatch.setattr(provisioning, "write_bundle", disk_full)
    with ctx.recorder.recording("failed provision_device"), pytest.raises(CommandError):
        call_command("provision_device", "--home", str(ctx.home.code), "--name", "Desk strip",
                     "--out", str(ctx.tmp_path / "bundle"))
    iot = boto3.client("iot", region_name=REGION)
    assert iot.list_things()["things"] == []
    assert iot.list_certificates()["certificates"] == []


def flow_schedules_rules(ctx) -> None:
    _schedule_flow(ctx, "rules")


def flow_schedules_scheduler(ctx) -> None:
    _schedule_flow(ctx, "scheduler")


def flow_shadow_gateway(ctx) -> None:
    from devices import shadow
    from devices.models import Device

    _provisioned(THING, ctx.settings)
    Device.objects.create(home=ctx.home, name="Sofa strip", thing_name=THING)
    with ctx.recorder.recording("shadow gateway"):
        shadow.update_desired(THING, {"on": True, "brightness": 100})
        shadow.get_shadow(THING)
        shadow.publish_cmd(THING, "identify")


def flow_consume_shadow_events(ctx) -> None:
    from devices.models import Device
    from devices.tests.test_consume_shadow_events import documents

    Device.objects.create(home=ctx.home, name="Sofa strip", thing_name=THING)
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=ctx.settings.SHADOW_EVENTS_QUEUE)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=documents(THING, 4, {"on": True}))
    sqs.send_message(QueueUrl=url, MessageBody="not json")  # goes to the dead letters
    with ctx.recorder.recording("consume shadow events"):
        call_command("consume_shadow_events", "--once", "--wait", "0", stdout=io.StringIO())
    assert Device.objects.get(thing_name=THING).reported == {"on": True}


def flow_mail(ctx) -> None:
    from django.core import mail

    ctx.settings.EMAIL_BACKEND = "smartlight.mail.SESEmailBackend"
    with ctx.recorder.recording("mail via SES"):
        sent = mail.send_mail("Welcome", "Hello", ctx.settings.DEFAULT_FROM_EMAIL,
                              ["alice@example.com"])
    assert sent == 1


def flow_secrets(ctx) -> None:
    from smartlight.aws import read_secret

    with ctx.recorder.recording("read secrets"):
        assert read_secret(ctx.stack["SecretKeyArn"], REGION)
        assert read_secret(ctx.stack["CognitoClientSecretArn"], REGION)


def flow_celery(ctx) -> None:
    """Celery's SQS transport as settings.py configures it for the stack's queue."""
    from kombu import Connection

    options = {"region": REGION,
               "predefined_queues": {"celery": {"url": ctx.stack["CeleryQueueUrl"]}}}
    with ctx.recorder.recording("celery on SQS"), Connection(
            "sqs://", transport_options=options) as connection:
        queue = connection.SimpleQueue("celery")
        queue.put({"task": "ping"})
        message = queue.get(timeout=5)
        assert message.payload == {"task": "ping"}
        message.ack()
        queue.close()


FLOWS: dict[str, tuple[Callable, set[str]]] = {
    # flow: (runner, actions it must at least have recorded: the recorder is not blind)
    "provision_device": (flow_provision_device,
                         {"iot:CreateThing", "iot:CreateKeysAndCertificate", "iot:AttachPolicy",
                          "iot:AttachThingPrincipal"}),
    "provision_batch --method fleet": (flow_provision_batch_fleet,
                                       {"iot:CreateKeysAndCertificate", "dynamodb:PutItem"}),
    "claim": (flow_claim, {"iot:ListThingPrincipals", "dynamodb:PutItem"}),
    "remove a light": (flow_remove, {"iot:DeleteThing", "iot:UpdateCertificate",
                                     "iot:DeleteThingShadow"}),
    "admin revoke": (flow_admin_revoke, {"iot:UpdateCertificate"}),
    "admin delete": (flow_admin_delete, {"iot:DeleteThing"}),
    "register_maker_ca jitp": (flow_register_maker_ca_jitp, {"iot:RegisterCACertificate"}),
    "register_maker_ca jitr": (flow_register_maker_ca_jitr, {"iot:RegisterCACertificate"}),
    "iot_cookie push": (flow_iot_cookie_push, {"dynamodb:PutItem"}),
    "schedule mirror (rules)": (flow_schedules_rules, {"events:PutRule", "events:DeleteRule"}),
    "schedule mirror (scheduler)": (flow_schedules_scheduler,
                                    {"scheduler:CreateSchedule", "scheduler:DeleteSchedule",
                                     "iam:PassRole"}),
    "reconcile_schedules --fix (rules)": (flow_reconcile_rules,
                                          {"events:ListRules", "events:PutRule"}),
    "reconcile_schedules --fix (scheduler)": (flow_reconcile_scheduler,
                                              {"scheduler:ListSchedules",
                                               "scheduler:CreateSchedule"}),
    "reconcile_iot_cookie --fix": (flow_reconcile_iot_cookie, {"dynamodb:Scan",
                                                               "dynamodb:PutItem"}),
    "failed provision_device": (flow_failed_provisioning,
                                {"iot:DeleteCertificate", "iot:DeleteThing",
                                 "iot:DetachThingPrincipal"}),
    "shadow gateway": (flow_shadow_gateway, {"iot:UpdateThingShadow", "iot:Publish"}),
    "consume shadow events": (flow_consume_shadow_events,
                              {"sqs:ReceiveMessage", "sqs:DeleteMessage"}),
    "mail via SES": (flow_mail, {"ses:SendEmail"}),
    "read secrets": (flow_secrets, {"secretsmanager:GetSecretValue"}),
    "celery on SQS": (flow_celery, {"sqs:SendMessage", "sqs:ReceiveMessage"}),
}


@dataclass
class Context:
    recorder: Recorder
    stack: dict[str, str]
    settings: Any
    tmp_path: Path
    home: Any
    alice: Any
    client_for: Callable
    capture: Callable
    monkeypatch: Any

    def stack_role_arn(self, logical: str) -> str:
        return _arn(template()["Resources"][logical], logical)


@pytest.mark.django_db
@pytest.mark.parametrize("flow", list(FLOWS))
def test_the_instance_role_allows_every_call_of(flow, recorder, stack, settings, tmp_path, home,
                                                alice, client_for, monkeypatch,
                                                django_capture_on_commit_callbacks):
    runner, expected = FLOWS[flow]
    ctx = Context(recorder, stack, settings, tmp_path, home, alice, client_for,
                  django_capture_on_commit_callbacks, monkeypatch)
    runner(ctx)

    assert expected <= recorder.actions(flow), sorted(recorder.actions(flow))
    print(flow, "->", ", ".join(sorted({str(c) for c in recorder.calls})))
    statements = instance_statements()
    denied = sorted({str(c) for c in recorder.calls if not allowed(c, statements)})
    assert not denied, "the instance role does not allow:\n  " + "\n  ".join(denied)


# --- the evaluator itself ----------------------------------------------------------------------
STATEMENTS = [
    {"Effect": "Allow", "Action": ["iot:Describe*"], "Resource": [_iot("thing", "sl-*")]},
    {"Effect": "Allow", "Action": ["iot:CreateKeysAndCertificate"], "Resource": ["*"]},
    {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": ["arn:aws:iam::1:role/r"],
     "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}},
]


@pytest.mark.parametrize("call, verdict", [
    (Call("t", "iot:DescribeThing", _iot("thing", "sl-0123456789ab")), True),
    (Call("t", "IOT:describething", _iot("thing", "sl-0123456789ab")), True),
    (Call("t", "iot:DescribeThing", _iot("thing", "other")), False),
    (Call("t", "iot:DescribeThing", None), False),
    (Call("t", "iot:DeleteThing", _iot("thing", "sl-0123456789ab")), False),
    (Call("t", "iot:CreateKeysAndCertificate", None), True),
    (Call("t", "iam:PassRole", "arn:aws:iam::1:role/r",
          (("iam:PassedToService", "scheduler.amazonaws.com"),)), True),
    (Call("t", "iam:PassRole", "arn:aws:iam::1:role/r",
          (("iam:PassedToService", "ec2.amazonaws.com"),)), False),
])
def test_the_evaluator_follows_iam_matching(call, verdict):
    assert allowed(call, STATEMENTS) is verdict


def test_template_references_resolve_to_the_arns_aws_makes():
    resolved = {s["Sid"]: s["Resource"] for s in instance_statements()}
    assert resolved["Tables"] == [
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/smartlight-prod-iot-cookie",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/smartlight-prod-serials"]
    assert resolved["Secrets"][0] == (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:smartlight/prod/secret-key-??????")
    assert _wildcard(resolved["Secrets"][0],
                     f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:smartlight/prod/"
                     "secret-key-AbC123")

