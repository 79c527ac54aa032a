"""Scoped fetch helpers: one per model, the only way views and the API reach devices, rooms
and scenes. An object of a home the user does not belong to answers 404 (docs/decisions.md:
it must not even be confirmed to exist); a role that is too low answers 403.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import F, Model, QuerySet
from django.http import Http404

from accounts.models import Membership, Role
from devices.models import Device, Room, Scene

M = TypeVar("M", bound=Model)


def _parse_code(code) -> uuid.UUID:
    try:
        return code if isinstance(code, uuid.UUID) else uuid.UUID(str(code))
    except (TypeError, ValueError) as exc:
        raise Http404("No such object") from exc


def _scoped(user, queryset: QuerySet[M], code, role: str) -> tuple[M, Membership]:
    if not user.is_authenticated:
        raise Http404("No such object")
    # One query: the membership join that scopes the object also yields the user's role
    # (an annotate after a filter on a multi-valued relation reuses that filter's join).
    obj = (
        queryset.filter(code=_parse_code(code), home__memberships__user=user)
        .annotate(_member_role=F("home__memberships__role"), _member_id=F("home__memberships__id"))
        .first()
    )
    if obj is None:
        raise Http404(f"No such {queryset.model._meta.verbose_name}")
    membership = Membership(id=obj._member_id, user=user, home=obj.home, role=obj._member_role)
    if not membership.can(role):
        raise PermissionDenied(f"This needs the {role} role in {obj.home.name}")
    return obj, membership


def get_device_for_user(user, code, role: str = Role.VIEWER) -> tuple[Device, Membership]:
    """The device with this code if `user` belongs to its home (else 404), at `role` (else 403)."""
    return _scoped(user, Device.objects.select_related("home", "room"), code, role)


def get_room_for_user(user, code, role: str = Role.VIEWER) -> tuple[Room, Membership]:
    return _scoped(user, Room.objects.select_related("home"), code, role)


def get_scene_for_user(user, code, role: str = Role.VIEWER) -> tuple[Scene, Membership]:
    return _scoped(user, Scene.objects.select_related("home"), code, role)
