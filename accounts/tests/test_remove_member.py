from accounts.models import Membership


def url(home, membership):
    return f"/homes/{home.code}/members/{membership.code}/remove/"


def test_the_owner_removes_a_member(client_for, alice, bob, home, membership_of):
    response = client_for(alice).post(url(home, membership_of(bob, home)))
    assert response.status_code == 302
    assert not Membership.objects.filter(user=bob, home=home).exists()


def test_the_owner_removes_another_owner(client_for, alice, bob, home, membership_of):
    Membership.objects.filter(user=bob, home=home).update(role="owner")
    assert client_for(alice).post(url(home, membership_of(bob, home))).status_code == 302
    assert not Membership.objects.filter(user=bob, home=home).exists()


def test_the_owner_cannot_remove_themselves_here(client_for, alice, home, membership_of, unchanged):
    with unchanged():
        response = client_for(alice).post(url(home, membership_of(alice, home)), follow=True)
    assert "use “Leave home”" in response.content.decode()


def test_the_last_owner_cannot_be_removed(alice, home, membership_of, unchanged):
    from accounts.actions import ActionError, do_remove_member

    with unchanged():
        try:
            do_remove_member(membership_of(alice, home))
        except ActionError as exc:
            assert "last owner" in str(exc)
        else:
            raise AssertionError("the last owner was removed")


def test_it_hides_other_homes(client_for, charlie, bob, home, membership_of, unchanged):
    with unchanged():
        assert client_for(charlie).post(url(home, membership_of(bob, home))).status_code == 404


def test_members_and_viewers_cannot_remove(client_for, bob, vera, home, membership_of, unchanged):
    with unchanged():
        assert client_for(bob).post(url(home, membership_of(vera, home))).status_code == 403
        assert client_for(vera).post(url(home, membership_of(bob, home))).status_code == 403
