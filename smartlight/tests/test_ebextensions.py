"""The Elastic Beanstalk configuration parses, and its CloudFormation resources pass cfn-lint."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / ".ebextensions").glob("*.config"))


def test_every_config_is_valid_yaml_with_known_sections():
    known = {"option_settings", "container_commands", "commands", "packages", "files",
             "Resources", "Outputs", "services", "users", "groups", "sources"}
    assert CONFIGS
    for path in CONFIGS:
        document = yaml.safe_load(path.read_text())
        assert isinstance(document, dict), path
        assert set(document) <= known, f"{path.name}: unknown sections {set(document) - known}"


def test_the_resources_pass_cfn_lint(tmp_path):
    resources = {}
    for path in CONFIGS:
        resources.update(yaml.safe_load(path.read_text()).get("Resources", {}))
    template = tmp_path / "template.json"
    template.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09",
                                    "Resources": resources}))
    lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(lint), str(template)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_resources_carry_the_contract_names():
    resources = yaml.safe_load((ROOT / ".ebextensions" / "02_resources.config").read_text())
    resources = resources["Resources"]
    table = resources["IotCookieTable"]["Properties"]
    assert table["TableName"] == "iot_cookie"
    assert table["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]
    assert resources["ShadowEventsQueue"]["Properties"]["QueueName"] == "smartlight-shadow-events"
    lwt = resources["LwtRule"]["Properties"]["TopicRulePayload"]
    assert lwt["Sql"] == "SELECT * FROM 'smartlight/+/lwt'"
    assert lwt["Actions"][0]["Republish"]["Topic"] == "$$aws/things/${topic(2)}/shadow/update"
    events = resources["ShadowEventsRule"]["Properties"]["TopicRulePayload"]
    assert events["Sql"] == (
        "SELECT *, topic(3) AS thing FROM '$aws/things/+/shadow/update/documents'"
    )


def test_the_procfile_serves_the_wsgi_app():
    procfile = (ROOT / "Procfile").read_text()
    assert "smartlight.wsgi:application" in procfile.split("web:", 1)[1].splitlines()[0]
