"""Portal pages for schedules: thin views over schedules/actions.py."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.access import require_membership
from accounts.models import Role
from schedules import actions, timing
from schedules.access import get_schedule_for_user
from schedules.forms import ScheduleForm, TriggerForm
from schedules.models import MirrorOutbox, Schedule


@login_required
def schedule_list(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    home = membership.home
    schedules = list(
        Schedule.objects.filter(home=home)
        .select_related("home", "scene")
        .prefetch_related("devices", "rooms")
        .order_by("name", "id")
    )
    pending = set(
        MirrorOutbox.objects.filter(code__in=[s.code for s in schedules]).values_list(
            "code", flat=True
        )
    )
    for schedule in schedules:
        schedule.mirror_pending = schedule.code in pending
    return render(
        request,
        "schedules/list.html",
        {"schedules": schedules, "home": home, "can_edit": membership.can_control},
    )


@login_required
def schedule_new(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, Role.MEMBER)
    home = membership.home
    # A sensible start, so the preview shows runs rather than an error before any typing.
    start = {"trigger": "weekly", "run_time": "07:00", "weekdays": ["0", "1", "2", "3", "4"],
             "on": "on"}
    form = ScheduleForm(request.POST or None, home=home, initial=start)
    if request.method == "POST" and form.is_valid():
        schedule = actions.do_create_schedule(home, form.cleaned_schedule)
        messages.success(request, f"Schedule “{schedule.name}” saved.")
        return redirect("schedule_list")
    return render(request, "schedules/form.html", {"form": form, "home": home, "schedule": None,
                                                  "no_location": timing.NO_LOCATION})


@login_required
def schedule_edit(request: HttpRequest, code) -> HttpResponse:
    schedule, _ = get_schedule_for_user(request.user, code, Role.MEMBER)
    home = schedule.home
    form = ScheduleForm(request.POST or None, home=home, initial=ScheduleForm.initial_for(schedule))
    if request.method == "POST" and form.is_valid():
        actions.do_update_schedule(schedule, form.cleaned_schedule)
        messages.success(request, f"Schedule “{schedule.name}” saved.")
        return redirect("schedule_list")
    return render(
        request, "schedules/form.html", {"form": form, "home": home, "schedule": schedule,
                                     "no_location": timing.NO_LOCATION}
    )


@login_required
@require_POST
def schedule_enabled(request: HttpRequest, code) -> HttpResponse:
    schedule, _ = get_schedule_for_user(request.user, code, Role.MEMBER)
    enabled = request.POST.get("enabled") == "1"
    actions.do_set_enabled(schedule, enabled)
    messages.success(request, f"Schedule “{schedule.name}” {'enabled' if enabled else 'disabled'}.")
    return redirect("schedule_list")


@login_required
@require_POST
def schedule_delete(request: HttpRequest, code) -> HttpResponse:
    schedule, _ = get_schedule_for_user(request.user, code, Role.MEMBER)
    name = schedule.name
    actions.do_delete_schedule(schedule)
    messages.success(request, f"Schedule “{name}” deleted.")
    return redirect("schedule_list")


@login_required
@require_POST
def schedule_preview(request: HttpRequest) -> HttpResponse:
    """The description and next five runs of the trigger in the form (htmx, before saving)."""
    membership = require_membership(request)
    home = membership.home
    form = TriggerForm(request.POST)
    form.is_valid()  # the fields that parse are used; the trigger check below explains the rest
    trigger = form.trigger_for(home)
    now = timezone.now()
    error = None
    runs = []
    try:
        timing.validate(trigger, now)
        runs = timing.next_runs(trigger, now, 5)
    except timing.TriggerError as exc:
        error = exc.reason
    if error == timing.NO_LOCATION:
        # The form says so once, beside the offset; the preview does not repeat it.
        return HttpResponse("")
    return render(
        request,
        "schedules/_preview.html",
        {
            "error": error,
            "description": timing.describe(trigger) if not error else "",
            "runs": runs,
            "notes": trigger.notes,
            "tz": home.timezone,
        },
    )
