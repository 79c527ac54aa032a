"""IoT policy evaluation against the examples and rules of the AWS IoT developer guide
("AWS IoT Core policies", "AWS IoT Core policy variables", "Publish/Subscribe policy examples",
"Thing policy examples")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.policy import CONNECT, PUBLISH, RECEIVE, SUBSCRIBE, Context, PolicySet

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
THING = "sl-0123456789ab"


def policies(*statements, context=None, documents=None):
    context = context or Context(client_id=THING, certificate_id="c" * 64, thing_name=THING,
                                 thing_type="smartlight", thing_attributes={"serial": "01"})
    docs = documents or [{"Version": "2012-10-17", "Statement": list(statements)}]
    return PolicySet(docs, context, "us-east-1", "123456789012")


def allow(action, resource, **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_nothing_is_allowed_without_a_statement():
    assert not policies().allows(CONNECT, THING)


def test_a_star_matches_across_levels_and_a_question_mark_one_character():
    rules = policies(allow("iot:Publish", "arn:aws:iot:us-east-1:123456789012:topic/a/*"),
                     allow("iot:Publish", "arn:aws:iot:us-east-1:123456789012:topic/b/?"))

    assert rules.allows(PUBLISH, "a/x/y/z")
    assert rules.allows(PUBLISH, "b/1")
    assert not rules.allows(PUBLISH, "b/12")
    assert not rules.allows(PUBLISH, "c/1")


def test_mqtt_wildcards_are_literal_characters_in_a_policy():
    rules = policies(allow("iot:Subscribe", "arn:aws:iot:*:*:topicfilter/sensors/+/temp"))

    assert rules.allows(SUBSCRIBE, "sensors/+/temp")
    assert not rules.allows(SUBSCRIBE, "sensors/kitchen/temp")


def test_topic_and_topicfilter_resources_are_distinct():
    rules = policies(allow(["iot:Publish", "iot:Subscribe"], "arn:aws:iot:*:*:topic/a/b"))

    assert rules.allows(PUBLISH, "a/b")
    assert not rules.allows(SUBSCRIBE, "a/b")


def test_an_explicit_deny_wins_over_any_allow():
    rules = policies(allow("iot:*", "*"),
                     {"Effect": "Deny", "Action": "iot:Publish",
                      "Resource": "arn:aws:iot:*:*:topic/secret/*"})

    assert rules.allows(PUBLISH, "open/1")
    assert not rules.allows(PUBLISH, "secret/1")
    assert rules.allows(RECEIVE, "secret/1")


def test_actions_match_case_insensitively_and_by_wildcard():
    assert policies(allow("IOT:publish", "*")).allows(PUBLISH, "x")
    assert policies(allow("iot:*", "*")).allows(CONNECT, "x")
    assert not policies(allow("iot:Publish", "*")).allows(RECEIVE, "x")


def test_thing_variables_resolve_only_for_an_attached_thing_named_as_the_client():
    statement = allow("iot:Connect", "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}")
    attached = policies(statement)
    unattached = policies(statement, context=Context(client_id=THING, thing_name=None))

    assert attached.allows(CONNECT, THING)
    assert not unattached.allows(CONNECT, THING)


def test_client_id_attribute_and_type_variables_are_substituted():
    rules = policies(
        allow("iot:Publish", "arn:aws:iot:*:*:topic/c/${iot:ClientId}"),
        allow("iot:Publish", "arn:aws:iot:*:*:topic/s/${iot:Connection.Thing.Attributes[serial]}"),
        allow("iot:Publish", "arn:aws:iot:*:*:topic/t/${iot:Connection.Thing.ThingTypeName}"),
    )

    assert rules.allows(PUBLISH, f"c/{THING}")
    assert rules.allows(PUBLISH, "s/01")
    assert rules.allows(PUBLISH, "t/smartlight")
    assert not rules.allows(PUBLISH, "s/02")


def test_a_substituted_value_is_matched_literally():
    context = Context(client_id="a*", thing_name=None)
    rules = policies(allow("iot:Publish", "arn:aws:iot:*:*:topic/c/${iot:ClientId}"),
                     context=context)

    assert rules.allows(PUBLISH, "c/a*")
    assert not rules.allows(PUBLISH, "c/abc")


def test_the_special_character_variables_stand_for_literals():
    rules = policies(allow("iot:Publish", "arn:aws:iot:*:*:topic/x/${*}/${?}"))

    assert rules.allows(PUBLISH, "x/*/?")
    assert not rules.allows(PUBLISH, "x/a/b")


def test_is_attached_condition():
    statement = allow("iot:Connect", "*",
                      Condition={"Bool": {"iot:Connection.Thing.IsAttached": ["true"]}})

    assert policies(statement).allows(CONNECT, THING)
    assert not policies(statement, context=Context(client_id=THING)).allows(CONNECT, THING)


def test_a_statement_with_an_unknown_condition_operator_never_applies():
    statement = allow("iot:Connect", "*",
                      Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})

    assert not policies(statement).allows(CONNECT, THING)


def test_the_device_policy_allows_exactly_the_things_own_topics():
    rules = policies(documents=[json.loads((DEPLOY / "device-policy.json").read_text())])

    assert rules.allows(CONNECT, THING)
    assert not rules.allows(CONNECT, "sl-ffffffffffff")
    for action in (PUBLISH, RECEIVE):
        assert rules.allows(action, f"$aws/things/{THING}/shadow/update")
        assert rules.allows(action, f"smartlight/{THING}/lwt")
        assert not rules.allows(action, "$aws/things/sl-ffffffffffff/shadow/update")
        assert not rules.allows(action, "smartlight/sl-ffffffffffff/lwt")
    assert rules.allows(SUBSCRIBE, f"$aws/things/{THING}/shadow/update/delta")
    assert not rules.allows(SUBSCRIBE, "$aws/things/+/shadow/update/delta")


@pytest.mark.parametrize("topic", [
    "$aws/certificates/create/json", "$aws/certificates/create/json/accepted",
    "$aws/provisioning-templates/smartlight-fleet/provision/json",
    "$aws/provisioning-templates/smartlight-fleet/provision/json/rejected",
])
def test_the_claim_policy_allows_the_two_provisioning_topic_families(topic):
    document = (DEPLOY / "claim-policy.json").read_text().replace("${TemplateName}",
                                                                  "smartlight-fleet")
    rules = policies(documents=[json.loads(document)], context=Context(client_id="factory"))

    assert rules.allows(CONNECT, "factory")
    assert rules.allows(PUBLISH, topic) and rules.allows(SUBSCRIBE, topic)


@pytest.mark.parametrize("topic", [
    f"$aws/things/{THING}/shadow/update", f"smartlight/{THING}/cmd",
    "$aws/certificates/create-from-csr/json",
    "$aws/provisioning-templates/other/provision/json",
])
def test_the_claim_policy_allows_nothing_else(topic):
    document = (DEPLOY / "claim-policy.json").read_text().replace("${TemplateName}",
                                                                  "smartlight-fleet")
    rules = policies(documents=[json.loads(document)], context=Context(client_id=THING))

    for action in (PUBLISH, SUBSCRIBE, RECEIVE):
        assert not rules.allows(action, topic)
