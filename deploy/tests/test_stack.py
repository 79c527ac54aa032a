"""deploy/smartlight.yaml: lint-clean, deployable twice into one account, data kept on delete."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml
from moto.cloudformation.parsing import get_model_map

from deploy import env as deploy_env

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "smartlight.yaml"
REGION = "us-east-1"
# moto names each resource type its CloudFormation cannot create; cfn-lint checks those.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")
ACCOUNT = "123456789012"


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (!Ref, !Sub, ...) as {"Ref": ...} / {"Fn::Sub": ...}."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def parameters(environment: str) -> list[dict]:
    values = {
        "EnvironmentName": environment,
        "DomainName": f"{environment}.lights.example.com",
        "CertificateArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0f0e1d2c-{environment}",
        "IotEndpoint": f"abc123-ats.iot.{REGION}.amazonaws.com",
        "LambdaCodeBucket": "smartlight-code",
        "LambdaCodeKey": "lambda.zip",
        "CreateThingType": "true" if environment == "prod" else "false",
    }
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def moto_supports(resource_type: str) -> bool:
    return resource_type in get_model_map()


def deploy(cloudformation, environment: str) -> dict[str, str]:
    cloudformation.create_stack(
        StackName=f"smartlight-{environment}",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=parameters(environment),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName=f"smartlight-{environment}")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_the_template_passes_cfn_lint_with_informational_checks():
    lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(lint), "-c", "I", "--", str(TEMPLATE)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


NAME_PROPERTIES = {"TableName", "QueueName", "BucketName", "RoleName", "PolicyName",
                   "InstanceProfileName", "AlarmName", "RuleName", "TemplateName", "FunctionName",
                   "LogGroupName", "UserPoolName", "ClientName", "IdentityPoolName", "TopicName",
                   "Name", "Domain", "ThingTypeName"}


def test_every_named_resource_carries_the_environment_name():
    shared = {"ThingType"}  # one per account: made by the first environment's stack
    checked = 0
    for logical, resource in template()["Resources"].items():
        if logical in shared:
            continue
        for key in NAME_PROPERTIES & set(resource.get("Properties", {})):
            value = resource["Properties"][key]
            if isinstance(value, dict) and ({"Ref", "Fn::GetAtt"} & set(value)):
                continue  # names another resource of the stack, checked on its own
            assert "${EnvironmentName}" in json.dumps(value), f"{logical}.{key} = {value}"
            checked += 1
    assert checked >= 30


def test_stateful_resources_are_retained_on_delete_and_replace():
    resources = template()["Resources"]
    for logical in ("IotCookieTable", "SerialsTable", "FirmwareBucket", "UserPool", "DevicePolicy",
                    "ShadowEventsQueue", "ShadowEventsDeadLetters", "DjangoSecretKey"):
        assert resources[logical]["DeletionPolicy"] == "Retain", logical
        assert resources[logical]["UpdateReplacePolicy"] == "Retain", logical
    cookie = resources["IotCookieTable"]["Properties"]
    assert cookie["BillingMode"] == "PAY_PER_REQUEST"
    assert cookie["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert cookie["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]
    serials = resources["SerialsTable"]["Properties"]
    assert serials["KeySchema"] == [{"AttributeName": "serial", "KeyType": "HASH"}]


def test_every_iot_rule_has_an_error_action():
    rules = [r for r in template()["Resources"].values() if r["Type"] == "AWS::IoT::TopicRule"]
    assert len(rules) == 3
    for rule in rules:
        assert "CloudwatchLogs" in rule["Properties"]["TopicRulePayload"]["ErrorAction"]


def test_the_cognito_client_uses_the_callback_with_its_trailing_slash_and_the_code_grant():
    client = template()["Resources"]["UserPoolClient"]["Properties"]
    assert client["CallbackURLs"] == [
        {"Fn::Sub": "https://${DomainName}/accounts/amazon-cognito/login/callback/"}
    ]
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthScopes"] == ["openid", "email", "profile"]
    assert client["GenerateSecret"] is True


def test_the_instance_role_names_resources_wherever_aws_allows_it():
    statements = template()["Resources"]["InstanceRole"]["Properties"]["Policies"][0][
        "PolicyDocument"]["Statement"]
    # Actions without resource-level permissions in the AWS service authorization reference,
    # each with why the platform calls it.
    account_wide = {
        "iot:CreateKeysAndCertificate": "the certificate does not exist before the call",
        "iot:DescribeEndpoint": "the account's data endpoint is not a resource",
        "iot:GetRegistrationCode": "one code per account and region, proves a maker's CA key",
        "iot:RegisterCACertificate": "the maker's CA does not exist before the call",
        "events:ListRules": "listing; the names carry the environment",
        "scheduler:ListSchedules": "listing; the names carry the environment",
    }
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]]
        if statement["Resource"] == "*":
            assert set(actions) <= set(account_wide), statement["Sid"]
    passed = {s["Resource"]["Fn::GetAtt"][0]: s["Condition"]["StringEquals"][
        "iam:PassedToService"] for s in statements if s["Action"] == "iam:PassRole"}
    assert passed == {"SchedulerRole": "scheduler.amazonaws.com",
                      "ProvisioningRole": "iot.amazonaws.com"}


def test_the_device_policy_scopes_each_light_to_its_own_thing_name():
    document = template()["Resources"]["DevicePolicy"]["Properties"]["PolicyDocument"]
    for statement in document["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [
            statement["Resource"]]
        for resource in resources:
            assert "${!iot:Connection.Thing.ThingName}" in resource["Fn::Sub"]


def test_the_fleet_template_body_is_deploy_fleet_template_json():
    body, variables = template()["Resources"]["FleetTemplate"]["Properties"]["TemplateBody"][
        "Fn::Sub"]
    assert variables == {"DevicePolicyName": {"Ref": "DevicePolicy"}}
    filled = json.loads(body.replace("${DevicePolicyName}", "smartlight-prod-device"))
    assert filled["Resources"]["policy"]["Properties"]["PolicyName"] == "smartlight-prod-device"
    assert set(filled["Parameters"]) == {"SerialNumber", "AWS::IoT::Certificate::Id"}
    assert filled["Resources"]["thing"]["Properties"]["ThingTypeName"] == "smartlight"
    shared = ROOT / "deploy" / "fleet-template.json"
    if not shared.exists():
        pytest.skip("deploy/fleet-template.json is not in this tree yet")
    expected = json.loads(
        shared.read_text().replace("${DevicePolicyName}", "smartlight-prod-device")
    )
    assert filled == expected


@pytest.mark.parametrize("logical, name", [("DevicePolicy", "device-policy.json"),
                                           ("ClaimPolicy", "claim-policy.json")])
def test_the_iot_policies_are_those_in_deploy(logical, name):
    """deploy/<name>.json (what localcloud enforces) scoped to the stack's region and account."""
    shared = ROOT / "deploy" / name
    if not shared.exists():
        pytest.skip(f"deploy/{name} is not in this tree yet")
    document = json.dumps(template()["Resources"][logical]["Properties"]["PolicyDocument"])
    document = re.sub(r'\{"Fn::Sub": ("(?:[^"\\]|\\.)*")\}', r"\1", document)
    document = (document.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "*")
                .replace("${AWS::AccountId}", "*").replace("${!", "${")
                .replace("smartlight-${EnvironmentName}-fleet", "${TemplateName}"))
    assert json.loads(document) == json.loads(shared.read_text())


def test_outputs_map_one_to_one_onto_settings_and_environment_options():
    outputs = set(template()["Outputs"])
    assert outputs == set(deploy_env.OUTPUT_SETTINGS) | set(deploy_env.OUTPUT_OPTIONS)
    names = list(deploy_env.OUTPUT_SETTINGS.values())
    assert len(names) == len(set(names))


def test_it_deploys_twice_into_one_account_and_makes_what_moto_supports(account):
    cloudformation = account
    prod = deploy(cloudformation, "prod")
    staging = deploy(cloudformation, "staging")

    resources = template()["Resources"]
    supported = {name for name, r in resources.items() if moto_supports(r["Type"])}
    assert {"IotCookieTable", "SerialsTable", "ShadowEventsQueue", "CeleryQueue",
            "ScheduleFunction", "InstanceProfile", "DevicePolicy"} <= supported
    for environment, outputs in (("prod", prod), ("staging", staging)):
        listed = cloudformation.list_stack_resources(StackName=f"smartlight-{environment}")
        made = {r["LogicalResourceId"] for r in listed["StackResourceSummaries"]}
        expected = set(supported)
        if environment != "prod":
            expected.discard("ThingType")
        assert expected <= made

        assert outputs["IotCookieTable"] == f"smartlight-{environment}-iot-cookie"
        assert outputs["SerialsTable"] == f"smartlight-{environment}-serials"
        assert outputs["ShadowEventsQueue"] == f"smartlight-{environment}-shadow-events"
        assert outputs["ScheduleNamePrefix"] == f"smartlight-{environment}-"
        assert outputs["FleetTemplateName"] == f"smartlight-{environment}-fleet"
        assert outputs["InstanceProfileName"] == f"smartlight-{environment}-instance"
        assert outputs["AllowedHosts"] == f"{environment}.lights.example.com"
        assert outputs["CsrfTrustedOrigins"] == f"https://{environment}.lights.example.com"

        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = dynamodb.describe_table(TableName=outputs["IotCookieTable"])["Table"]
        assert table["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        dynamodb.describe_table(TableName=outputs["SerialsTable"])

        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.get_queue_url(QueueName=outputs["ShadowEventsQueue"])["QueueUrl"]
        redrive = json.loads(sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"].endswith(
            f":smartlight-{environment}-shadow-events-dead")
        assert outputs["CeleryQueueUrl"] == sqs.get_queue_url(
            QueueName=f"smartlight-{environment}-celery")["QueueUrl"]

        function = boto3.client("lambda", region_name=REGION).get_function(
            FunctionName=outputs["ScheduleLambdaArn"])["Configuration"]
        assert function["Handler"] == "schedule_handler.handler"
        assert function["Environment"]["Variables"]["IOT_ENDPOINT"] == outputs["IotEndpoint"]

        iam = boto3.client("iam", region_name=REGION)
        profile = iam.get_instance_profile(InstanceProfileName=outputs["InstanceProfileName"])
        assert [r["RoleName"] for r in profile["InstanceProfile"]["Roles"]] == [
            f"smartlight-{environment}-instance"]
        assert iam.get_role(RoleName=f"smartlight-{environment}-scheduler")["Role"]["Arn"] == (
            outputs["SchedulerRoleArn"])

        iot = boto3.client("iot", region_name=REGION)
        # (moto keeps the document as Python's repr of it, so only its text is compared)
        device = iot.get_policy(policyName=f"smartlight-{environment}-device")["policyDocument"]
        assert f":{ACCOUNT}:client/${{iot:Connection.Thing.ThingName}}" in device
        iot.get_policy(policyName=f"smartlight-{environment}-claim")
    assert boto3.client("iot", region_name=REGION).describe_thing_type(
        thingTypeName="smartlight")["thingTypeName"] == "smartlight"


def test_deleting_a_stack_keeps_the_retained_data_and_drops_the_rest(account):
    cloudformation = account
    outputs = deploy(cloudformation, "prod")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.put_item(TableName=outputs["IotCookieTable"],
                      Item={"user_id": {"S": "u-1"}, "homes": {"S": "h-1"}})

    cloudformation.delete_stack(StackName="smartlight-prod")

    item = dynamodb.get_item(TableName=outputs["IotCookieTable"], Key={"user_id": {"S": "u-1"}})
    assert item["Item"]["homes"] == {"S": "h-1"}
    assert outputs["SerialsTable"] in dynamodb.list_tables()["TableNames"]
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.get_queue_url(QueueName=outputs["ShadowEventsQueue"])
    names = [f["FunctionName"] for f in boto3.client("lambda", region_name=REGION)
             .list_functions()["Functions"]]
    assert "smartlight-prod-schedule" not in names
    # Certificates of lights in the field still carry the device policy.
    boto3.client("iot", region_name=REGION).get_policy(policyName="smartlight-prod-device")
