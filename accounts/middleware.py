from django.shortcuts import redirect
from django.utils.functional import SimpleLazyObject

from accounts.access import NoHome, current_membership


class CurrentHomeMiddleware:
    """Puts `request.membership` and `request.home` (lazy) on every request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = SimpleLazyObject(lambda: current_membership(request))
        request.home = SimpleLazyObject(
            lambda: m.home if (m := current_membership(request)) else None
        )
        return self.get_response(request)

    def process_exception(self, request, exception):
        # A portal page needs a home; someone who left every home is offered to create one
        # instead of a bare 404. The JSON API keeps its 404.
        if isinstance(exception, NoHome) and not request.path.startswith("/api/"):
            return redirect("home_new")
        return None
