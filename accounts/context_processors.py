from accounts.access import current_membership


def homes(request) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    membership = current_membership(request)
    return {
        "current_membership": membership,
        "current_home": membership.home if membership else None,
        "all_memberships": getattr(request, "_memberships_cache", []),
    }
