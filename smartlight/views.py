import json
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static

# Marks a 403 whose cause is the page's form token, not the person's role: static/js/app.js
# then offers to sign in again rather than showing the refusal.
STALE_SESSION_HEADER = "X-Session-Stale"


def healthz(request: HttpRequest) -> HttpResponse:
    """Load balancer health check: the process answers and the database is reachable."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return HttpResponse("database unavailable", status=503, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent with a token that is not the session's: the person signed out, or in again,
    in another window since the page was loaded. Saying "not allowed" would mislead."""
    response = render(request, "403_csrf.html", status=403)
    response[STALE_SESSION_HEADER] = "1"
    return response


# --- installable: the web app manifest and the service worker ---------------------------------
# The app shell the service worker keeps for a quick start and a readable offline page.
SHELL = ("css/app.css", "css/devices.css", "js/htmx.min.js", "js/app.js", "js/devices.js",
         "icons/icon-192.png", "offline.html")


def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: the portal installs to a phone's home screen as "Smart Light"."""
    icons = [
        {"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {"src": static("icons/maskable-512.png"), "sizes": "512x512", "type": "image/png",
         "purpose": "maskable"},
    ]
    response = JsonResponse({
        "name": "Smart Light", "short_name": "Smart Light", "id": "/", "start_url": "/",
        "scope": "/", "display": "standalone", "background_color": "#0f1115",
        "theme_color": "#0f1115", "description": "Your home's lights, rooms and scenes.",
        "icons": icons,
    })
    response["Content-Type"] = "application/manifest+json"
    return response


def service_worker(request: HttpRequest) -> HttpResponse:
    """static/js/sw.js served from the site's root, so its scope is the whole portal, with the
    app shell's URLs (hashed names in production) put in front of it."""
    shell = [static(path) for path in SHELL]
    body = (f"const SHELL = {json.dumps(shell)};\n"
            f"const OFFLINE = {json.dumps(static('offline.html'))};\n"
            + (Path(settings.BASE_DIR) / "static" / "js" / "sw.js").read_text())
    response = HttpResponse(body, content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response
