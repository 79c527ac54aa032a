from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.access import SESSION_HOME_KEY, get_home_for_user


@login_required
@require_POST
def switch_home(request):
    home, _ = get_home_for_user(request.user, request.POST.get("home"))
    request.session[SESSION_HOME_KEY] = str(home.code)
    return redirect("dashboard")
