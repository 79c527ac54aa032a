from accounts.models import Membership


def url(home):
    return f"/homes/{home.code}/leave/"


def test_a_member_leaves(client_for, bob, home):
    client = client_for(bob)
    response = client.post(url(home))
    assert response.status_code == 302
    assert not Membership.objects.filter(user=bob, home=home).exists()


def test_a_viewer_may_leave(client_for, vera, home):
    assert client_for(vera).post(url(home)).status_code == 302
    assert not Membership.objects.filter(user=vera, home=home).exists()


def test_an_owner_leaves_when_another_owner_remains(client_for, alice, bob, home):
    Membership.objects.filter(user=bob, home=home).update(role="owner")
    assert client_for(alice).post(url(home)).status_code == 302
    assert not Membership.objects.filter(user=alice, home=home).exists()


def test_the_last_owner_cannot_leave(client_for, alice, home, unchanged):
    with unchanged():
        response = client_for(alice).post(url(home), follow=True)
    assert b"last owner of Alice&#x27;s Home and cannot leave" in response.content


def test_someone_without_a_home_is_offered_to_create_one(client_for, bob, home):
    client = client_for(bob)
    client.post(url(home))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/homes/new/"


def test_it_hides_other_homes(client_for, charlie, home, unchanged):
    with unchanged():
        assert client_for(charlie).post(url(home)).status_code == 404


def test_it_needs_post(client_for, bob, home, unchanged):
    with unchanged():
        assert client_for(bob).get(url(home)).status_code == 405
