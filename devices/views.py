from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.access import require_membership


@login_required
def dashboard(request):
    membership = require_membership(request)
    devices = membership.home.devices.select_related("room")
    return render(request, "devices/dashboard.html", {"devices": devices})
