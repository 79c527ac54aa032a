"""The stack's outputs as the platform's settings and its Elastic Beanstalk options.

    python -m deploy.env --stack smartlight-prod                 # writes a saved configuration
    eb create smartlight-prod --cfg smartlight-prod --database.engine postgres ...
    python -m deploy.env --stack smartlight-prod --setenv        # prints `eb setenv ...`

The saved configuration (.elasticbeanstalk/saved_configs/<stack>.cfg.yml) carries every
environment variable, the instance profile and the HTTPS certificate, so the first `eb create`
starts with all it needs. `--setenv` prints the same variables for an environment that exists.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent

# Stack output -> settings variable (smartlight/settings.py reads each from the environment).
OUTPUT_SETTINGS: dict[str, str] = {
    "IotCookieTable": "IOT_COOKIE_TABLE",
    "SerialsTable": "SERIALS_TABLE",
    "ShadowEventsQueue": "SHADOW_EVENTS_QUEUE",
    "CeleryQueueUrl": "CELERY_QUEUE_URL",
    "IotEndpoint": "IOT_ENDPOINT",
    "DevicePolicyName": "IOT_DEVICE_POLICY",
    "ClaimPolicyName": "IOT_CLAIM_POLICY",
    "FleetTemplateName": "FLEET_TEMPLATE_NAME",
    "ScheduleLambdaArn": "SCHEDULE_LAMBDA_ARN",
    "SchedulerRoleArn": "SCHEDULER_ROLE_ARN",
    "ScheduleNamePrefix": "SCHEDULE_NAME_PREFIX",
    "CognitoDomain": "COGNITO_DOMAIN",
    "CognitoClientId": "COGNITO_CLIENT_ID",
    "CognitoClientSecretArn": "COGNITO_CLIENT_SECRET_ARN",
    "SecretKeyArn": "SECRET_KEY_ARN",
    "FirmwareBucket": "FIRMWARE_BUCKET",
    "DefaultFromEmail": "DEFAULT_FROM_EMAIL",
    "AllowedHosts": "ALLOWED_HOSTS",
    "CsrfTrustedOrigins": "CSRF_TRUSTED_ORIGINS",
    "SiteUrl": "SITE_URL",
    "PortalUrl": "PORTAL_URL",
    "Region": "AWS_REGION",
}

# Stack output -> (namespace, option) of the Elastic Beanstalk environment itself.
OUTPUT_OPTIONS: dict[str, tuple[str, str]] = {
    "InstanceProfileName": ("aws:autoscaling:launchconfiguration", "IamInstanceProfile"),
    "CertificateArn": ("aws:elbv2:listener:443", "SSLCertificateArns"),
    "AlarmTopicArn": ("aws:elasticbeanstalk:customoption", "AlarmTopicArn"),
}

# Fixed for every environment that runs on the stack.
FIXED_SETTINGS = {
    "SMARTLIGHT_AWS_MODE": "aws",
    "DEBUG": "false",
    "SCHEDULE_BACKEND": "scheduler",
    "EMAIL_BACKEND": "smartlight.mail.SESEmailBackend",
}


class StackError(Exception):
    pass


def stack_outputs(stack: str, cloudformation: Any) -> dict[str, str]:
    """The outputs of `stack` as {key: value}; StackError names what is missing."""
    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except Exception as exc:  # botocore's ClientError: the stack does not exist
        raise StackError(f"cannot read stack {stack!r}: {exc}") from exc
    outputs = {item["OutputKey"]: item["OutputValue"] for item in found[0].get("Outputs", [])}
    missing = sorted((set(OUTPUT_SETTINGS) | set(OUTPUT_OPTIONS)) - set(outputs))
    if missing:
        raise StackError(f"stack {stack!r} lacks the outputs {', '.join(missing)}")
    return outputs


def environment_variables(outputs: dict[str, str]) -> dict[str, str]:
    variables = {OUTPUT_SETTINGS[key]: outputs[key] for key in OUTPUT_SETTINGS}
    variables.update(FIXED_SETTINGS)
    return variables


PLATFORM_NAME = "Python 3.11 running on 64bit Amazon Linux 2023"


def latest_platform_arn(elasticbeanstalk: Any) -> str:
    """The newest ready version of the platform the .ebextensions are written for."""
    found = elasticbeanstalk.list_platform_versions(Filters=[
        {"Type": "PlatformName", "Operator": "=", "Values": [PLATFORM_NAME]},
        {"Type": "PlatformStatus", "Operator": "=", "Values": ["Ready"]},
    ])["PlatformSummaryList"]
    if not found:
        raise StackError(f"no ready platform named {PLATFORM_NAME!r} in this region")
    newest = max(found, key=lambda p: tuple(int(n) for n in p["PlatformVersion"].split(".")))
    return newest["PlatformArn"]


def saved_configuration(outputs: dict[str, str], platform_arn: str) -> dict[str, Any]:
    """An EB CLI saved configuration: what `eb create --cfg NAME` applies to a new environment."""
    options: dict[str, dict[str, str]] = {
        "aws:elasticbeanstalk:application:environment": environment_variables(outputs),
        "aws:elasticbeanstalk:environment": {"LoadBalancerType": "application"},
        "aws:elbv2:listener:443": {"ListenerEnabled": "true", "Protocol": "HTTPS"},
    }
    for key, (namespace, option) in OUTPUT_OPTIONS.items():
        options.setdefault(namespace, {})[option] = outputs[key]
    return {
        "EnvironmentConfigurationMetadata": {"Description": "Smart Light on its stack"},
        "Platform": {"PlatformArn": platform_arn},
        "OptionSettings": options,
        "EnvironmentTier": {"Type": "Standard", "Name": "WebServer"},
        "AWSConfigurationTemplateVersion": "1.1.0.0",
    }


def setenv_command(outputs: dict[str, str]) -> str:
    pairs = [f"{name}={value}" for name, value in environment_variables(outputs).items()]
    return "eb setenv " + " ".join(shlex.quote(pair) for pair in pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.env", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="CloudFormation stack name")
    parser.add_argument("--region", help="AWS region (default: the AWS CLI's)")
    parser.add_argument("--setenv", action="store_true", help="print `eb setenv ...` instead")
    parser.add_argument("--output", type=Path, help="where to write the saved configuration")
    parser.add_argument("--platform-arn", help=f"default: the newest {PLATFORM_NAME}")
    args = parser.parse_args(argv)

    from smartlight.aws import build_client

    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        print("error: give --region (or set AWS_REGION)", file=sys.stderr)
        return 2
    try:
        outputs = stack_outputs(args.stack, build_client("cloudformation", region=region))
        if args.setenv:
            print(setenv_command(outputs))
            return 0
        platform = args.platform_arn or latest_platform_arn(
            build_client("elasticbeanstalk", region=region)
        )
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = args.output or ROOT / ".elasticbeanstalk" / "saved_configs" / f"{args.stack}.cfg.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(saved_configuration(outputs, platform), sort_keys=False))
    print(f"wrote {path}; create the environment with: eb create <name> --cfg {path.stem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
