from accounts.models import Home


def url(home):
    return f"/homes/{home.code}/settings/"


VALID = {"name": "Lake House", "timezone": "Asia/Tokyo", "latitude": "35.68", "longitude": "139.69"}


def test_it_shows_the_settings_to_the_owner(client_for, alice, home):
    response = client_for(alice).get(url(home))
    assert response.status_code == 200
    assert b"Home settings" in response.content
    assert b'value="Alice&#x27;s Home"' in response.content


def test_it_saves_name_timezone_and_location(client_for, alice, home):
    response = client_for(alice).post(url(home), VALID)
    assert response.status_code == 302
    home.refresh_from_db()
    assert (home.name, home.timezone, home.latitude, home.longitude) == (
        "Lake House",
        "Asia/Tokyo",
        35.68,
        139.69,
    )


def test_it_clears_the_location_when_both_fields_are_empty(client_for, alice, home):
    Home.objects.filter(pk=home.pk).update(latitude=1, longitude=2)
    data = {**VALID, "latitude": "", "longitude": ""}
    assert client_for(alice).post(url(home), data).status_code == 302
    home.refresh_from_db()
    assert home.latitude is None and home.longitude is None


def test_it_rejects_an_unknown_timezone(client_for, alice, home, unchanged):
    with unchanged():
        response = client_for(alice).post(url(home), {**VALID, "timezone": "Mars/Olympus"})
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content


def test_it_rejects_latitude_out_of_range(client_for, alice, home, unchanged):
    with unchanged():
        response = client_for(alice).post(url(home), {**VALID, "latitude": "90.5"})
    assert response.status_code == 400
    assert b"less than or equal to 90" in response.content


def test_it_rejects_longitude_out_of_range(client_for, alice, home, unchanged):
    with unchanged():
        response = client_for(alice).post(url(home), {**VALID, "longitude": "-181"})
    assert response.status_code == 400
    assert b"greater than or equal to -180" in response.content


def test_it_rejects_half_a_location(client_for, alice, home, unchanged):
    with unchanged():
        response = client_for(alice).post(url(home), {**VALID, "longitude": ""})
    assert response.status_code == 400
    assert b"Give both latitude and longitude" in response.content


def test_it_rejects_an_empty_name(client_for, alice, home, unchanged):
    with unchanged():
        response = client_for(alice).post(url(home), {**VALID, "name": "   "})
    assert response.status_code == 400


def test_it_answers_htmx_with_the_page_to_swap(client_for, alice, home):
    response = client_for(alice).post(
        url(home), {**VALID, "latitude": "100"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert b'id="main"' in response.content


def test_it_hides_other_homes(client_for, charlie, home, unchanged):
    client = client_for(charlie)
    with unchanged():
        assert client.get(url(home)).status_code == 404
        assert client.post(url(home), VALID).status_code == 404


def test_it_refuses_members_and_viewers(client_for, bob, vera, home, unchanged):
    for user in (bob, vera):
        client = client_for(user)
        with unchanged():
            assert client.get(url(home)).status_code == 403
            assert client.post(url(home), VALID).status_code == 403


def test_it_requires_sign_in(client, home):
    response = client.get(url(home))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_new_timezone_moves_the_homes_schedules(client_for, alice, home):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from devices.models import Device
    from schedules import actions

    lamp = Device.objects.create(home=home, name="Lamp", thing_name="sl-0000000000c1")
    raw = {"name": "Wake", "trigger": "weekly", "run_time": dt.time(7, 0),
           "weekdays": [0, 1, 2, 3, 4, 5, 6], "devices": [str(lamp.code)],
           "desired": {"on": True}}
    schedule = actions.do_create_schedule(home, actions.clean_schedule(home, raw))
    assert schedule.next_run.astimezone(ZoneInfo("Europe/Berlin")).time() == dt.time(7, 0)

    response = client_for(alice).post(url(home), VALID)

    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.next_run.astimezone(ZoneInfo("Asia/Tokyo")).time() == dt.time(7, 0)


def test_it_keeps_the_location_that_sun_schedules_need(client_for, alice, home, unchanged):

    from devices.models import Device
    from schedules import actions
    from schedules.models import Schedule

    Home.objects.filter(pk=home.pk).update(latitude=52.52, longitude=13.405)
    home.refresh_from_db()
    lamp = Device.objects.create(home=home, name="Lamp", thing_name="sl-0000000000c2")
    raw = {"name": "Dusk", "trigger": "sunset", "offset_minutes": 0,
           "devices": [str(lamp.code)], "desired": {"on": True}}
    schedule = actions.do_create_schedule(home, actions.clean_schedule(home, raw))
    next_run = schedule.next_run
    assert next_run is not None

    with unchanged():
        response = client_for(alice).post(url(home), {**VALID, "latitude": "", "longitude": ""})

    assert response.status_code == 400
    assert b"Sunrise and sunset schedules need the home&#x27;s location (Dusk)" in response.content
    assert Schedule.objects.get(pk=schedule.pk).next_run == next_run
