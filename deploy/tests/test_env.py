"""python -m deploy.env: the stack's outputs become the environment's settings and options."""

from __future__ import annotations

import shlex

import pytest
import yaml
from django.conf import settings

from deploy import env as deploy_env

from .test_stack import deploy

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

PLATFORM = (
    "arn:aws:elasticbeanstalk:us-east-1::platform/"
    "Python 3.11 running on 64bit Amazon Linux 2023/4.3.0"
)
# Settings the provisioning side of the platform defines (merged from its own branch).
PROVISIONING = {"IOT_DEVICE_POLICY", "IOT_CLAIM_POLICY", "FLEET_TEMPLATE_NAME", "SERIALS_TABLE"}


def test_every_mapped_variable_is_a_setting_the_platform_reads():
    source = (deploy_env.ROOT / "smartlight" / "settings.py").read_text()
    for name in deploy_env.OUTPUT_SETTINGS.values():
        if name.endswith("_ARN") and name.removesuffix("_ARN") in {"SECRET_KEY",
                                                                   "COGNITO_CLIENT_SECRET"}:
            # Read through env_secret(), which looks for <name>_ARN first.
            assert f'env_secret("{name.removesuffix("_ARN")}")' in source, name
            continue
        if name in PROVISIONING and not hasattr(settings, name):
            continue  # defined by the provisioning settings block
        assert hasattr(settings, name), name


def test_it_writes_a_saved_configuration_for_eb_create(account, tmp_path, capsys):
    outputs = deploy(account, "prod")
    # moto cannot create Cognito, Secrets Manager or the IoT policy's name; AWS would output them.
    outputs.update({
        "CognitoDomain": "smartlight-prod-123456789012.auth.us-east-1.amazoncognito.com",
        "CognitoClientId": "client-id",
        "CognitoClientSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:c",
        "SecretKeyArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k",
        "DevicePolicyName": "smartlight-prod-device",
        "ClaimPolicyName": "smartlight-prod-claim",
    })
    config = deploy_env.saved_configuration(outputs, PLATFORM)

    options = config["OptionSettings"]
    variables = options["aws:elasticbeanstalk:application:environment"]
    assert variables["IOT_COOKIE_TABLE"] == "smartlight-prod-iot-cookie"
    assert variables["SHADOW_EVENTS_QUEUE"] == "smartlight-prod-shadow-events"
    assert variables["SCHEDULE_NAME_PREFIX"] == "smartlight-prod-"
    assert variables["SECRET_KEY_ARN"].endswith(":secret:k")
    assert "SECRET_KEY" not in variables  # the secret itself never leaves Secrets Manager
    assert variables["SMARTLIGHT_AWS_MODE"] == "aws"
    assert options["aws:autoscaling:launchconfiguration"] == {
        "IamInstanceProfile": "smartlight-prod-instance"}
    assert options["aws:elbv2:listener:443"]["SSLCertificateArns"] == outputs["CertificateArn"]
    assert options["aws:elbv2:listener:443"]["Protocol"] == "HTTPS"
    assert config["Platform"] == {"PlatformArn": PLATFORM}

    command = deploy_env.setenv_command(outputs)
    words = shlex.split(command)
    assert words[:2] == ["eb", "setenv"]
    assert "DEFAULT_FROM_EMAIL=Smart Light <noreply@prod.lights.example.com>" in words


def test_the_command_names_outputs_the_stack_lacks(account, tmp_path, capsys):
    deploy(account, "prod")  # moto leaves out the outputs of what it cannot create
    status = deploy_env.main(["--stack", "smartlight-prod", "--region", "us-east-1",
                              "--platform-arn", PLATFORM, "--output", str(tmp_path / "x.yml")])
    assert status == 2
    error = capsys.readouterr().err
    assert "lacks the outputs" in error and "SecretKeyArn" in error
    assert not (tmp_path / "x.yml").exists()


def test_the_command_writes_the_file_eb_create_reads(account, tmp_path, monkeypatch, capsys):
    outputs = deploy(account, "prod")
    real = account

    class CompleteStack:
        """The moto stack's outputs plus those of the resources moto cannot create."""

        def describe_stacks(self, StackName):
            found = real.describe_stacks(StackName=StackName)
            present = {o["OutputKey"] for o in found["Stacks"][0]["Outputs"]}
            found["Stacks"][0]["Outputs"] += [
                {"OutputKey": key, "OutputValue": f"value-of-{key}"}
                for key in set(deploy_env.OUTPUT_SETTINGS) | set(deploy_env.OUTPUT_OPTIONS)
                if key not in present
            ]
            return found

    from smartlight import aws

    monkeypatch.setattr(aws, "build_client", lambda service, region: CompleteStack())
    written = tmp_path / "smartlight-prod.cfg.yml"
    status = deploy_env.main(["--stack", "smartlight-prod", "--region", "us-east-1",
                              "--platform-arn", PLATFORM, "--output", str(written)])
    assert status == 0
    assert "eb create <name> --cfg smartlight-prod" in capsys.readouterr().out
    config = yaml.safe_load(written.read_text())
    variables = config["OptionSettings"]["aws:elasticbeanstalk:application:environment"]
    assert variables["IOT_COOKIE_TABLE"] == outputs["IotCookieTable"]
    assert variables["SECRET_KEY_ARN"] == "value-of-SecretKeyArn"


def test_a_missing_stack_is_a_clear_error(account, capsys):
    status = deploy_env.main(["--stack", "smartlight-nowhere", "--region", "us-east-1",
                              "--platform-arn", PLATFORM])
    assert status == 2
    assert "cannot read stack 'smartlight-nowhere'" in capsys.readouterr().err
