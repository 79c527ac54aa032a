"""The one scoped fetch helper for Schedule (docs/architecture.md, "Tenancy"): a schedule of a
home the user does not belong to answers 404; a role that is too low answers 403."""

from __future__ import annotations

import uuid

from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import Membership, Role
from schedules.models import Schedule


def get_schedule_for_user(user, code, role: str = Role.VIEWER) -> tuple[Schedule, Membership]:
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such schedule")
    try:
        code = code if isinstance(code, uuid.UUID) else uuid.UUID(str(code))
    except (TypeError, ValueError) as exc:
        raise Http404("No such schedule") from exc
    schedule = (
        Schedule.objects.select_related("home", "scene")
        .filter(code=code, home__memberships__user=user)
        .first()
    )
    if schedule is None:
        raise Http404("No such schedule")
    membership = Membership.objects.get(user=user, home_id=schedule.home_id)
    if not membership.can(role):
        raise PermissionDenied(f"This needs the {role} role in {schedule.home.name}")
    return schedule, membership
