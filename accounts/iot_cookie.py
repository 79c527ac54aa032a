"""The `iot_cookie` DynamoDB mirror of home membership (docs/architecture.md).

One item per person, partition key `user_id` (String) = `User.iot_user_id` (the Cognito `sub`
for Cognito users). The item says which homes they belong to, with which role, and which things
they may control (devices in homes where they are owner or member; viewers see but do not
control). It is derived entirely from the database, so writing it is idempotent: a push puts
the item the database implies, or deletes it when the person has no home (or no account) left.

Changes are recorded in `IotCookieOutbox` inside the caller's transaction (`mark_users`,
`mark_home`) and pushed once it commits by the one outbox task (smartlight.outbox, mirror
"iot_cookie"); reconcile_iot_cookie finds and repairs any drift. The things of a home come from
devices through accounts.hooks (accounts does not import the apps above it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from django.conf import settings

from accounts import hooks
from accounts.models import ROLE_RANK, Home, IotCookieOutbox, Membership, Role, User
from smartlight import aws, outbox

log = logging.getLogger(__name__)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _table() -> str:
    return settings.IOT_COOKIE_TABLE


# --- what the database says -------------------------------------------------------------------


def expected_items(user_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """{user_id: item} for active users with at least one home (all of them when None).

    Three queries whatever the number of users: memberships, then devices of those homes.
    """
    memberships = Membership.objects.filter(user__is_active=True).select_related("user", "home")
    if user_ids is not None:
        memberships = memberships.filter(user__iot_user_id__in=list(user_ids))
    memberships = list(memberships.order_by("user_id", "home__code"))
    things_by_home = hooks.things_of_homes({m.home_id for m in memberships})

    items: dict[str, dict[str, Any]] = {}
    for m in memberships:
        item = items.setdefault(
            m.user.iot_user_id,
            {"user_id": m.user.iot_user_id, "email": m.user.email, "homes": [], "things": []},
        )
        item["homes"].append({"code": str(m.home.code), "name": m.home.name, "role": m.role})
        if ROLE_RANK[Role(m.role)] >= ROLE_RANK[Role.MEMBER]:
            item["things"].extend(things_by_home.get(m.home_id, []))
    for item in items.values():
        item["things"] = sorted(set(item["things"]))
    return items


def expected_item(user_id: str) -> dict[str, Any] | None:
    return expected_items([user_id]).get(user_id)


# --- what DynamoDB holds ----------------------------------------------------------------------


def _to_dynamodb(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in item.items()}


def _from_dynamodb(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in raw.items()}


def remote_item(user_id: str) -> dict[str, Any] | None:
    response = aws.client("dynamodb").get_item(
        TableName=_table(), Key={"user_id": {"S": user_id}}, ConsistentRead=True
    )
    raw = response.get("Item")
    return _from_dynamodb(raw) if raw else None


def remote_items() -> dict[str, dict[str, Any]]:
    """Every item in the table (paginated Scan)."""
    paginator = aws.client("dynamodb").get_paginator("scan")
    found: dict[str, dict[str, Any]] = {}
    for page in paginator.paginate(TableName=_table(), ConsistentRead=True):
        for raw in page.get("Items", []):
            item = _from_dynamodb(raw)
            found[item["user_id"]] = item
    return found


def push(user_id: str) -> str:
    """Make the item for `user_id` what the database implies. Returns "put" or "deleted"."""
    item = expected_item(user_id)
    client = aws.client("dynamodb")
    if item is None:
        # DeleteItem of a missing key succeeds, so repeating a delete is harmless.
        client.delete_item(TableName=_table(), Key={"user_id": {"S": user_id}})
        return "deleted"
    client.put_item(TableName=_table(), Item=_to_dynamodb(item))
    return "put"


def drift(expected: dict[str, Any] | None, actual: dict[str, Any] | None) -> str | None:
    """Why `actual` differs from `expected`, or None when they match."""
    if expected is None and actual is None:
        return None
    if expected is None:
        return "item in DynamoDB for a user with no home"
    if actual is None:
        return "item missing in DynamoDB"
    # DynamoDB lists keep order; both sides are built sorted, so plain equality is exact.
    if expected != actual:
        keys = expected.keys() | actual.keys()
        fields = sorted(k for k in keys if expected.get(k) != actual.get(k))
        return "item differs in " + ", ".join(fields)
    return None


# --- recording changes (inside the caller's transaction) --------------------------------------


def mark_users(user_ids: Iterable[str]) -> None:
    """Record that these users' items are stale and push them once the transaction commits."""
    ids = sorted({uid for uid in user_ids if uid})
    if ids:
        outbox.mark(MIRROR, ids)


def mark_home(home: Home) -> None:
    """Every member's item of `home` is stale (e.g. a device joined or left the home)."""
    mark_users(
        Membership.objects.filter(home=home).values_list("user__iot_user_id", flat=True)
    )


def mark_user(user: User) -> None:
    mark_users([user.iot_user_id])


MIRROR = "iot_cookie"


def register() -> None:
    """Register the mirror with the outbox (AccountsConfig.ready)."""
    outbox.register(outbox.Mirror(MIRROR, IotCookieOutbox, "user_id", lambda key: push(key)))
