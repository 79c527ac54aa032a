from django.utils.functional import SimpleLazyObject

from accounts.access import current_membership


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
