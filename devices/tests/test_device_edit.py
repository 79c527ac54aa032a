"""Renaming, moving and removing a light in the portal."""

from __future__ import annotations

import re

from devices.models import Device, Room


def test_a_member_renames_and_moves_a_light(client_for, bob, light, home):
    kitchen = Room.objects.create(home=home, name="Kitchen")
    client = client_for(bob)
    assert client.get(f"/lights/{light.code}/").status_code == 200
    response = client.post(f"/lights/{light.code}/", {"name": "Shelf", "room": kitchen.code})
    assert response.status_code == 302
    light.refresh_from_db()
    assert (light.name, light.room) == ("Shelf", kitchen)


def test_a_light_cannot_be_moved_into_another_homes_room(client_for, alice, light,
                                                         charlies_home):
    garage = Room.objects.create(home=charlies_home, name="Garage")
    response = client_for(alice).post(f"/lights/{light.code}/",
                                      {"name": "Sofa strip", "room": garage.code})
    assert response.status_code == 400
    light.refresh_from_db()
    assert light.room.name == "Living room"


def test_a_light_can_leave_its_room(client_for, bob, light):
    client_for(bob).post(f"/lights/{light.code}/", {"name": "Sofa strip", "room": ""})
    light.refresh_from_db()
    assert light.room is None


def test_only_the_owner_removes_a_light(client_for, alice, bob, light):
    assert client_for(bob).post(f"/lights/{light.code}/delete/").status_code == 403
    assert Device.objects.filter(pk=light.pk).exists()
    assert "Remove light" not in client_for(bob).get(f"/lights/{light.code}/").content.decode()
    assert client_for(alice).post(f"/lights/{light.code}/delete/").status_code == 302
    assert not Device.objects.filter(pk=light.pk).exists()


def test_viewers_and_outsiders_cannot_edit_a_light(client_for, vera, charlie, light):
    for user, status in ((vera, 403), (charlie, 404)):
        client = client_for(user)
        assert client.get(f"/lights/{light.code}/").status_code == status
        assert client.post(f"/lights/{light.code}/", {"name": "X"}).status_code == status
        assert client.post(f"/lights/{light.code}/delete/").status_code == status
    light.refresh_from_db()
    assert light.name == "Sofa strip"


def test_removing_a_light_marks_every_members_iot_cookie_item_stale(client_for, alice, bob,
                                                                    vera, light):
    from accounts.models import IotCookieOutbox

    ids = [u.iot_user_id for u in (alice, bob, vera)]

    def versions():
        rows = dict(IotCookieOutbox.objects.filter(user_id__in=ids)
                    .values_list("user_id", "version"))
        return [rows.get(i, 0) for i in ids]

    before = versions()
    client_for(alice).post(f"/lights/{light.code}/delete/")
    assert all(after > was for after, was in zip(versions(), before, strict=True))


def test_the_rename_form_shows_the_light_in_its_own_room(client_for, bob, light):
    page = client_for(bob).get(f"/lights/{light.code}/").content.decode()
    selected = re.search(r'<option value="([^"]*)" selected>([^<]*)</option>', page)
    assert selected is not None, "no room is selected"
    assert selected.groups() == (str(light.room.code), "Living room")


def test_renaming_a_light_as_the_form_shows_it_keeps_its_room(client_for, bob, light):
    client = client_for(bob)
    page = client.get(f"/lights/{light.code}/").content.decode()
    room = re.search(r'<option value="([^"]*)" selected>', page).group(1)
    client.post(f"/lights/{light.code}/", {"name": "Reading strip", "room": room})
    light.refresh_from_db()
    assert (light.name, light.room.name) == ("Reading strip", "Living room")
