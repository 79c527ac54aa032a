"""The Elastic Beanstalk configuration parses, its resources pass cfn-lint, and the stack owns
every AWS resource (the environment creates none of its own)."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / ".ebextensions").glob("*.config"))


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / ".ebextensions" / name).read_text())


def test_every_config_is_valid_yaml_with_known_sections():
    known = {"option_settings", "container_commands", "commands", "packages", "files",
             "Resources", "Outputs", "services", "users", "groups", "sources"}
    assert CONFIGS
    for path in CONFIGS:
        document = yaml.safe_load(path.read_text())
        assert isinstance(document, dict), path
        assert set(document) <= known, f"{path.name}: unknown sections {set(document) - known}"


def test_the_resources_pass_cfn_lint(tmp_path):
    """Linted beside stand-ins for what Elastic Beanstalk defines itself."""
    resources = {
        "AWSEBV2LoadBalancer": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {"Subnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]},
        },
        "AWSEBV2LoadBalancerTargetGroup": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {"Port": 80, "Protocol": "HTTP", "VpcId": "vpc-0123456789abcdef0"},
        },
    }
    for path in CONFIGS:
        resources.update(yaml.safe_load(path.read_text()).get("Resources", {}))
    text = json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})
    # Fn::GetOptionSetting is Elastic Beanstalk's own; CloudFormation sees its value.
    text = text.replace(
        '{"Fn::GetOptionSetting": {"Namespace": "aws:elasticbeanstalk:customoption", '
        '"OptionName": "AlarmTopicArn"}}',
        '"arn:aws:sns:us-east-1:123456789012:smartlight-prod-alarms"',
    )
    assert "GetOptionSetting" not in text
    template = tmp_path / "template.json"
    template.write_text(text)
    lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(lint), str(template)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_environment_creates_no_resource_the_stack_owns():
    types = set()
    for path in CONFIGS:
        for resource in (yaml.safe_load(path.read_text()).get("Resources") or {}).values():
            types.add(resource["Type"])
    assert types == {"AWS::ElasticLoadBalancingV2::Listener", "AWS::CloudWatch::Alarm"}


def test_port_80_redirects_to_https():
    listener = load("02_https.config")["Resources"]["AWSEBV2LoadBalancerListener"]["Properties"]
    assert listener["Port"] == 80
    (action,) = listener["DefaultActions"]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"]["Protocol"] == "HTTPS"
    assert action["RedirectConfig"]["Port"] == "443"
    assert action["RedirectConfig"]["StatusCode"] == "HTTP_301"


def test_the_health_check_and_log_streaming_are_configured():
    options = load("01_django.config")["option_settings"]
    assert options["aws:elasticbeanstalk:environment:process:default"]["HealthCheckPath"] == (
        "/healthz")
    logs = load("03_logs.config")["option_settings"]["aws:elasticbeanstalk:cloudwatch:logs"]
    assert logs["StreamLogs"] is True
    assert logs["DeleteOnTerminate"] is False


def test_migrations_run_on_one_instance_only():
    commands = load("01_django.config")["container_commands"]
    assert commands["01_migrate"]["leader_only"] is True


def test_the_procfile_runs_web_worker_beat_and_consumer():
    processes = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert set(processes) == {"web", "worker", "beat", "consumer"}
    assert "smartlight.wsgi:application" in processes["web"]
    assert "python -m smartlight.beat" in processes["beat"]
    assert "-B" not in processes["worker"].split()
