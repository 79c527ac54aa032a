from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from devices.models import Device, Room, Scene
from devices.picture import gradient

# The home screen's feed: the API's list of lights (static/js/devices.js asks it every second).
FEED = "/api/v1/devices"


def test_it_shows_rooms_lights_and_scenes(client_for, alice, light, home):
    Scene.objects.create(home=home, name="Movie night", states={light.thing_name: {"on": False}})
    response = client_for(alice).get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Living room" in page and "Sofa strip" in page and "Movie night" in page
    assert f'id="light-{light.code}"' in page
    assert "shows on · 78 % · Orange" in page
    # the picture of the strip, computed from the reported state
    assert "linear-gradient(90deg, #" in page


def test_it_shows_the_look_in_percent_and_the_reported_effects(client_for, bob, light):
    page = client_for(bob).get("/").content.decode()
    assert "shows on · 78 % · Orange" in page
    # The detail sheet is filled from the API's answer (the page shows 200 of 255 as 78 %)
    (entry,) = client_for(bob).get(FEED).json()
    assert (entry["look"]["brightness"], entry["look"]["color"]) == (200, "#ff8800")
    assert {"rainbow", "breathe"} <= set(entry["effects"])


def test_it_marks_a_light_pending_while_desired_and_reported_differ(client_for, alice, light):
    light.desired = {"on": True, "brightness": 5}
    light.save()
    page = client_for(alice).get("/").content.decode()
    assert re.search(r'<article class="tile[^"]* is-pending', page)


def test_it_shows_offline_lights_with_last_seen(client_for, alice, light):
    light.connected = False
    light.last_seen = timezone.now() - timedelta(minutes=5)
    light.save()
    page = client_for(alice).get("/").content.decode()
    assert "is-offline" in page and "Offline" in page and "seen 5" in page


def test_a_viewer_sees_disabled_controls(client_for, vera, light):
    page = client_for(vera).get("/").content.decode()
    assert "view only" in page or "but not change them" in page
    toggle = re.search(r'<button [^>]*data-control="on"[^>]*>', page).group(0)
    assert 'aria-pressed="true"' in toggle and " disabled" in toggle
    assert re.search(r'<dialog id="sheet".*?<fieldset disabled>', page, re.S)
    assert "Save the current look" not in page and "Add a room" not in page


def test_a_member_sees_enabled_controls(client_for, bob, light):
    page = client_for(bob).get("/").content.decode()
    toggle = re.search(r'<button [^>]*data-control="on"[^>]*>', page).group(0)
    assert 'aria-pressed="true"' in toggle and "disabled" not in toggle
    assert re.search(r'<dialog id="sheet".*?<fieldset >', page, re.S)
    assert "Save the current look" in page and "Add a room" in page


def test_it_only_shows_the_current_homes_lights(client_for, charlie, light, charlies_light):
    page = client_for(charlie).get("/").content.decode()
    assert "Charlie&#x27;s lamp" in page and "Sofa strip" not in page


def test_the_dashboard_query_count_does_not_grow_with_lights(
    client_for, alice, home, django_assert_num_queries
):
    client = client_for(alice)
    rooms = [Room.objects.create(home=home, name=f"Room {i}") for i in range(3)]

    def add(n, start):
        Device.objects.bulk_create([
            Device(home=home, room=rooms[i % 3], name=f"L{start + i}",
                   thing_name=f"sl-{start + i:012x}")
            for i in range(n)
        ])

    add(3, 0)
    client.get("/")  # warm the session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get("/").status_code == 200
    add(60, 100)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/").status_code == 200
    assert len(few) == len(many) <= 10


def test_the_feed_lists_every_light_with_what_a_tile_needs(client_for, alice, light):
    light.desired = {"color": "#0000ff"}
    light.save()
    (entry,) = client_for(alice).get(FEED).json()
    assert entry["code"] == str(light.code)
    assert entry["connected"] is True and entry["pending"] == {"color": "#0000ff"}
    assert entry["look"]["color"] == "#0000ff" and entry["shown"]["color"] == "#ff8800"
    assert entry["words"] == "shows on · 78 % · Orange"
    assert entry["role"] == "owner"
    assert len(entry["picture"]) == 8
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in entry["picture"])


def test_the_dashboard_draws_its_tiles_from_the_same_answer_as_the_feed(client_for, alice,
                                                                        light):
    client = client_for(alice)
    (entry,) = client.get(FEED).json()
    page = client.get("/").content.decode()
    tile = re.search(rf'<article [^>]*id="light-{light.code}".*?</article>', page, re.S).group(0)
    assert f'<p data-role="shown">{entry["words"]}</p>' in tile
    assert f'data-strip="{gradient(entry["picture"])}"' in tile
    # The page's script is told where the API is, for this home
    assert f'data-devices-url="/api/v1/devices?home={light.home.code}"' in page
    assert 'data-device-state-url="/api/v1/devices/CODE/state"' in page


def test_the_feed_query_count_is_constant(client_for, alice, home, light):
    client = client_for(alice)
    client.get(FEED)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(FEED)
    Device.objects.bulk_create([
        Device(home=home, name=f"L{i}", thing_name=f"sl-{i + 500:012x}") for i in range(40)
    ])
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(FEED).json()) == 41
    assert len(few) == len(many) <= 7


def test_the_feed_uses_the_simulators_frame_when_there_is_one(
    client_for, alice, light, tmp_path, monkeypatch
):
    monkeypatch.setenv("SMARTLIGHT_SIM_DIR", str(tmp_path))
    (tmp_path / light.thing_name).mkdir()
    (tmp_path / light.thing_name / "frame.json").write_text('{"pixels": [[0, 255, 0], [0, 0, 0]]}')
    (entry,) = client_for(alice).get(FEED).json()
    assert entry["picture"] == ["#00ff00", "#1b1b1f"]


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    assert client.get("/").status_code == 302
    assert client.get(FEED).status_code == 401


def test_the_feed_never_shows_another_homes_lights(client_for, charlie, light, charlies_light):
    codes = [d["code"] for d in client_for(charlie).get(FEED).json()]
    assert codes == [str(charlies_light.code)]


def test_the_feed_answers_not_modified_until_a_light_changes(
    client_for, alice, light, django_assert_max_num_queries
):
    client = client_for(alice)
    first = client.get(FEED)
    etag = first["ETag"]
    # The rate counter (and its sweep), session, user, roles, the aggregate: no light is read
    with django_assert_max_num_queries(6):
        again = client.get(FEED, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag
    # When the consumer (or anybody) changes the light, the fingerprint moves
    from devices.ingest import ShadowEvent, apply_events

    apply_events([ShadowEvent(thing=light.thing_name, version=99, desired={},
                              reported={"on": False, "connected": True}, seen=None)])
    changed = client.get(FEED, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()[0]["shown"]["on"] is False


def test_the_feed_answers_anew_when_the_callers_role_changes(client_for, bob, home, light):
    # A role change moves no light, but the page must learn it (its controls depend on it)
    from accounts.models import Membership

    client = client_for(bob)
    first = client.get(FEED)
    assert first.json()[0]["role"] == "member"
    Membership.objects.filter(home=home, user=bob).update(role="viewer")
    again = client.get(FEED, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and again.json()[0]["role"] == "viewer"


def test_a_light_reporting_nonsense_still_draws(client_for, alice, light):
    light.reported = {"on": "yes", "brightness": "bright", "color": [1, 2], "effect": 7,
                      "speed": None, "effects": "all", "led_count": "many"}
    light.desired = {"brightness": 999}
    light.save()
    response = client_for(alice).get("/")
    assert response.status_code == 200
    assert f'id="light-{light.code}"' in response.content.decode()
    (entry,) = client_for(alice).get(FEED).json()
    assert entry["look"] == {"on": False, "brightness": 128, "color": "#ffffff",
                             "effect": "solid", "speed": 128}


def test_names_and_reported_values_are_escaped(client_for, alice, light):
    light.name = '<script>alert("x")</script>'
    light.reported = dict(light.reported, effects=["solid", '"><img src=x onerror=alert(1)>'])
    light.save()
    page = client_for(alice).get("/").content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_an_online_light_does_not_say_when_it_was_last_seen(client_for, alice, light):
    light.connected = True
    light.last_seen = timezone.now() - timedelta(minutes=2)
    light.save()
    page = client_for(alice).get("/").content.decode()
    assert "Online" in page
    assert "seen 2" not in page


def test_a_change_waiting_for_an_offline_light_says_it_applies_when_the_light_is_back(
    client_for, alice, light
):
    light.connected = False
    light.desired = {"color": "#00ff00"}
    light.reported = {"color": "#ff0000"}
    light.save()
    page = client_for(alice).get("/").content.decode()
    assert "applies when the light is back" in page


def test_every_control_has_a_name_and_the_sheet_is_titled_by_its_light(client_for, alice,
                                                                        light):
    page = client_for(alice).get("/").content.decode()
    toggle = re.search(r'<button [^>]*data-control="on"[^>]*>([^<]*)<', page)
    assert toggle.group(1) == "Sofa strip"
    assert 'Adjust<span class="visually-hidden"> Sofa strip</span>' in page
    assert '<dialog id="sheet" class="sheet" aria-labelledby="sheet-title">' in page
    for label in ("Brightness (percent)", "Any colour", "Effect", "Speed", "Warm white",
                  "Colour wheel (hue)"):
        assert f'aria-label="{label}"' in page, label
