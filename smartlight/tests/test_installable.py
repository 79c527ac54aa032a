"""The portal installs to a phone: manifest, icons, service worker; API docs without a CDN."""

from __future__ import annotations

import re
import struct
from pathlib import Path

from django.conf import settings

STATIC = Path(settings.BASE_DIR) / "static"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_the_manifest_names_the_app_and_its_icons_exist_at_their_sizes(client, db):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert (manifest["name"], manifest["start_url"], manifest["display"]) == (
        "Smart Light", "/", "standalone")
    sizes = {int(icon["sizes"].split("x")[0]) for icon in manifest["icons"]}
    assert {192, 512} <= sizes
    for icon in manifest["icons"]:
        side = int(icon["sizes"].split("x")[0])
        assert png_size(STATIC / icon["src"].removeprefix("/static/")) == (side, side)


def test_every_page_links_the_manifest(client_for, alice, home):
    page = client_for(alice).get("/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert 'name="color-scheme" content="light dark"' in page


def test_the_service_worker_is_served_from_the_root_with_the_app_shell(client, db):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    shell = re.search(r"const SHELL = (\[.*?\]);", response.content.decode()).group(1)
    for url in re.findall(r'"([^"]+)"', shell):
        assert (STATIC / url.removeprefix("/static/")).is_file(), url


def test_the_api_docs_load_swagger_from_the_sites_own_static_files(client, db):
    page = client.get("/api/v1/docs").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(s.endswith("swagger-ui-bundle.js") for s in sources)
    assert all(s.startswith("/") for s in sources), sources
    assert "cdn" not in page.lower()
