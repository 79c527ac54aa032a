"""AWS IoT Core policy evaluation for the MQTT actions: iot:Connect, iot:Publish, iot:Subscribe,
iot:Receive.

As IoT Core evaluates policies (AWS IoT developer guide, "AWS IoT Core policies", "AWS IoT Core
policy variables", "Publish/Subscribe policy examples"):

- Everything is denied unless a statement allows it; an explicit Deny wins over any Allow.
- Resources are ARNs: `client/<client id>` for Connect, `topic/<topic>` for Publish and Receive,
  `topicfilter/<filter>` for Subscribe. `*` matches any run of characters (`/` included) and `?`
  any one character; the MQTT wildcards `+` and `#` are plain characters in a policy.
- Policy variables (`${iot:ClientId}`, `${iot:Connection.Thing.ThingName}`,
  `${iot:Connection.Thing.ThingTypeName}`, `${iot:Connection.Thing.Attributes[name]}`,
  `${iot:Connection.Thing.IsAttached}`, `${iot:CertificateId}`) are substituted before matching;
  `${*}`, `${?}` and `${$}` stand for the literal characters. A resource whose variable does not
  resolve (the thing variables when no thing attached to the certificate has the client id as
  its name) matches nothing.
- Conditions: `Bool`, `StringEquals`, `StringNotEquals`, `StringLike`, `StringNotLike` on the same
  keys. A statement with any other condition operator never applies.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

CONNECT = "iot:Connect"
PUBLISH = "iot:Publish"
SUBSCRIBE = "iot:Subscribe"
RECEIVE = "iot:Receive"

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERALS = {"*": "\x00star", "?": "\x00question", "$": "\x00dollar"}


class Unresolved(Exception):
    pass


@dataclass(frozen=True)
class Context:
    """What the policy variables of one connection resolve to."""

    client_id: str
    certificate_id: str | None = None
    thing_name: str | None = None
    thing_type: str | None = None
    thing_attributes: Mapping[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        if name == "iot:ClientId":
            return self.client_id
        if name == "iot:CertificateId" and self.certificate_id is not None:
            return self.certificate_id
        if name == "iot:Connection.Thing.IsAttached":
            return "true" if self.thing_name is not None else "false"
        if self.thing_name is not None:
            if name == "iot:Connection.Thing.ThingName":
                return self.thing_name
            if name == "iot:Connection.Thing.ThingTypeName" and self.thing_type:
                return self.thing_type
            if name.startswith("iot:Connection.Thing.Attributes[") and name.endswith("]"):
                attribute = name[len("iot:Connection.Thing.Attributes["):-1]
                if attribute in self.thing_attributes:
                    return str(self.thing_attributes[attribute])
        raise Unresolved(name)


def _substitute(pattern: str, context: Context) -> str:
    """The pattern with variables replaced; the literal escapes become placeholders so that the
    substituted value's own `*` and `?` stay literal too."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _LITERALS:
            return _LITERALS[name]
        return _escape(context.value(name))

    return _VARIABLE.sub(replace, pattern)


def _escape(value: str) -> str:
    return value.replace("*", _LITERALS["*"]).replace("?", _LITERALS["?"])


@lru_cache(maxsize=4096)
def _compile(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    parts = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char == "\x00":
            for literal, placeholder in _LITERALS.items():
                if pattern.startswith(placeholder, i):
                    parts.append(re.escape(literal))
                    i += len(placeholder)
                    break
            continue
        else:
            parts.append(re.escape(char))
        i += 1
    return re.compile("".join(parts), 0 if case_sensitive else re.IGNORECASE)


def _matches(pattern: str, value: str, context: Context, case_sensitive: bool = True) -> bool:
    try:
        resolved = _substitute(pattern, context)
    except Unresolved:
        return False
    return _compile(resolved, case_sensitive).fullmatch(value) is not None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _condition_holds(condition: Mapping[str, Any], context: Context) -> bool:
    for operator, tests in condition.items():
        if not isinstance(tests, Mapping):
            return False
        for key, expected in tests.items():
            try:
                actual = context.value(key)
            except Unresolved:
                actual = None
            wanted = _as_list(expected)
            if operator == "Bool":
                if actual is None or actual.lower() not in [w.lower() for w in wanted]:
                    return False
            elif operator == "StringEquals":
                if actual is None or actual not in wanted:
                    return False
            elif operator == "StringNotEquals":
                if actual is not None and actual in wanted:
                    return False
            elif operator == "StringLike":
                if actual is None or not any(fnmatch.fnmatchcase(actual, w) for w in wanted):
                    return False
            elif operator == "StringNotLike":
                if actual is not None and any(fnmatch.fnmatchcase(actual, w) for w in wanted):
                    return False
            else:
                return False
    return True


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    condition: Mapping[str, Any] | None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        return cls(
            effect=str(raw.get("Effect", "")),
            actions=tuple(_as_list(raw.get("Action"))),
            not_actions=tuple(_as_list(raw.get("NotAction"))),
            resources=tuple(_as_list(raw.get("Resource"))),
            not_resources=tuple(_as_list(raw.get("NotResource"))),
            condition=raw.get("Condition"),
        )

    def applies(self, action: str, resource: str, context: Context) -> bool:
        if self.actions:
            if not any(_matches(a, action, context, case_sensitive=False) for a in self.actions):
                return False
        elif self.not_actions:
            if any(_matches(a, action, context, case_sensitive=False) for a in self.not_actions):
                return False
        else:
            return False
        if self.resources:
            if not any(_matches(r, resource, context) for r in self.resources):
                return False
        elif self.not_resources:
            if any(_matches(r, resource, context) for r in self.not_resources):
                return False
        else:
            return False
        return self.condition is None or _condition_holds(self.condition, context)


class PolicySet:
    """The policies attached to one principal, evaluated for one connection's context."""

    def __init__(self, documents: Iterable[str | Mapping[str, Any]], context: Context,
                 region: str, account: str) -> None:
        self.context = context
        self.prefix = f"arn:aws:iot:{region}:{account}:"
        self.statements: list[Statement] = []
        for document in documents:
            parsed = json.loads(document) if isinstance(document, str) else document
            raw = parsed.get("Statement", [])
            for statement in [raw] if isinstance(raw, Mapping) else raw:
                self.statements.append(Statement.parse(statement))
        self._cache: dict[tuple[str, str], bool] = {}

    def allows(self, action: str, name: str) -> bool:
        """`name` is the client id (Connect), topic (Publish, Receive) or filter (Subscribe)."""
        key = (action, name)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        kind = {CONNECT: "client", SUBSCRIBE: "topicfilter"}.get(action, "topic")
        resource = f"{self.prefix}{kind}/{name}"
        allowed = False
        for statement in self.statements:
            if statement.applies(action, resource, self.context):
                if statement.effect == "Deny":
                    allowed = False
                    break
                if statement.effect == "Allow":
                    allowed = True
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = allowed
        return allowed
