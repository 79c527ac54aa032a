from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Invitation


def url(home):
    return f"/homes/{home.code}/members/"


def test_it_lists_members_with_their_roles(client_for, bob, home):
    response = client_for(bob).get(url(home))
    assert response.status_code == 200
    text = response.content.decode()
    for email, role in [
        ("alice@example.com", "Owner"),
        ("bob@example.com", "Member"),
        ("vera@example.com", "Viewer"),
    ]:
        assert email in text
        assert role in text


def test_it_shows_management_only_to_owners(client_for, alice, bob, home):
    owner_page = client_for(alice).get(url(home)).content
    assert b"Send invitation" in owner_page
    assert b"Change role" in owner_page
    member_page = client_for(bob).get(url(home)).content
    assert b"Send invitation" not in member_page
    assert b"Change role" not in member_page
    assert b"Leave home" in member_page


def test_it_lists_open_invitations_to_owners(client_for, alice, home):
    Invitation.objects.create(home=home, email="new@example.com", role="viewer", invited_by=alice)
    response = client_for(alice).get(url(home))
    assert b"new@example.com" in response.content


def test_it_runs_a_fixed_number_of_queries(client_for, alice, home):
    from accounts.models import Membership, User

    client = client_for(alice)
    client.get(url(home))
    with CaptureQueriesContext(connection) as few:
        client.get(url(home))
    for i in range(5):
        user = User.objects.create_user(f"extra{i}@example.com", "x")
        Membership.objects.create(user=user, home=home, role="viewer")
        Invitation.objects.create(home=home, email=f"inv{i}@example.com", invited_by=alice)
    with CaptureQueriesContext(connection) as many:
        client.get(url(home))
    assert len(many) == len(few)


def test_it_hides_other_homes(client_for, charlie, home):
    assert client_for(charlie).get(url(home)).status_code == 404


def test_it_shows_viewers_the_list_without_controls(client_for, vera, home):
    response = client_for(vera).get(url(home))
    assert response.status_code == 200
    assert b"Remove" not in response.content
