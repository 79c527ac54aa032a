"""Rooms in the portal: members add, rename and remove them; viewers and outsiders cannot."""

from __future__ import annotations

from devices.models import Device, Room


def test_a_member_adds_a_room(client_for, bob, home):
    response = client_for(bob).post("/rooms/", {"name": "Kitchen"}, follow=True)
    assert "Room “Kitchen” added." in response.content.decode()
    assert list(home.rooms.values_list("name", flat=True)) == ["Kitchen"]


def test_a_duplicate_room_name_is_refused(client_for, bob, home):
    Room.objects.create(home=home, name="Kitchen")
    response = client_for(bob).post("/rooms/", {"name": "kitchen"}, follow=True)
    assert "already has a room" in response.content.decode()
    assert home.rooms.count() == 1


def test_a_viewer_cannot_add_a_room(client_for, vera, home):
    assert client_for(vera).post("/rooms/", {"name": "Attic"}).status_code == 403
    assert not Room.objects.exists()


def test_a_member_renames_a_room(client_for, bob, light):
    room = light.room
    client = client_for(bob)
    assert client.get(f"/rooms/{room.code}/").status_code == 200
    response = client.post(f"/rooms/{room.code}/", {"name": "Lounge"})
    assert response.status_code == 302
    room.refresh_from_db()
    assert room.name == "Lounge"


def test_a_blank_room_name_shows_the_form_again(client_for, bob, light):
    response = client_for(bob).post(f"/rooms/{light.room.code}/", {"name": ""})
    assert response.status_code == 400
    light.room.refresh_from_db()
    assert light.room.name == "Living room"


def test_removing_a_room_keeps_its_lights(client_for, bob, light):
    client_for(bob).post(f"/rooms/{light.room.code}/delete/")
    assert not Room.objects.exists()
    light.refresh_from_db()
    assert light.room is None


def test_viewers_and_outsiders_cannot_edit_or_remove_rooms(client_for, vera, charlie, light):
    room = light.room
    for user, status in ((vera, 403), (charlie, 404)):
        client = client_for(user)
        assert client.get(f"/rooms/{room.code}/").status_code == status
        assert client.post(f"/rooms/{room.code}/", {"name": "X"}).status_code == status
        assert client.post(f"/rooms/{room.code}/delete/").status_code == status
    room.refresh_from_db()
    assert room.name == "Living room"
    assert Device.objects.get(pk=light.pk).room == room
