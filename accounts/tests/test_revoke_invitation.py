from accounts.models import Invitation


def url(home, invitation):
    return f"/homes/{home.code}/invitations/{invitation.code}/revoke/"


def test_the_owner_withdraws_an_open_invitation(client_for, alice, home):
    invitation = Invitation.objects.create(home=home, email="n@example.com", invited_by=alice)
    assert client_for(alice).post(url(home, invitation)).status_code == 302
    assert not Invitation.objects.filter(pk=invitation.pk).exists()


def test_it_hides_other_homes_invitations(
    client_for, charlie, alice, home, charlies_home, unchanged
):
    invitation = Invitation.objects.create(home=home, email="n@example.com", invited_by=alice)
    client = client_for(charlie)
    with unchanged():
        assert client.post(url(home, invitation)).status_code == 404
        # Charlie's own home with alice's invitation code is still 404.
        assert client.post(url(charlies_home, invitation)).status_code == 404


def test_members_and_viewers_cannot_withdraw(client_for, alice, bob, vera, home, unchanged):
    invitation = Invitation.objects.create(home=home, email="n@example.com", invited_by=alice)
    for user in (bob, vera):
        with unchanged():
            assert client_for(user).post(url(home, invitation)).status_code == 403
