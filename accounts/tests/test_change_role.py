from accounts.models import Membership


def url(home, membership):
    return f"/homes/{home.code}/members/{membership.code}/role/"


def test_the_owner_changes_a_role(client_for, alice, bob, home, membership_of):
    response = client_for(alice).post(url(home, membership_of(bob, home)), {"role": "viewer"})
    assert response.status_code == 302
    assert membership_of(bob, home).role == "viewer"


def test_the_owner_can_make_another_owner_and_then_step_down(
    client_for, alice, bob, home, membership_of
):
    client = client_for(alice)
    client.post(url(home, membership_of(bob, home)), {"role": "owner"})
    response = client.post(url(home, membership_of(alice, home)), {"role": "member"})
    assert response.status_code == 302
    assert membership_of(alice, home).role == "member"
    assert membership_of(bob, home).role == "owner"


def test_the_last_owner_cannot_be_demoted(client_for, alice, home, membership_of, unchanged):
    with unchanged():
        response = client_for(alice).post(
            url(home, membership_of(alice, home)), {"role": "member"}, follow=True
        )
    assert b"last owner of Alice&#x27;s Home and cannot be demoted" in response.content


def test_it_refuses_an_unknown_role(client_for, alice, bob, home, membership_of, unchanged):
    with unchanged():
        response = client_for(alice).post(
            url(home, membership_of(bob, home)), {"role": "superuser"}, follow=True
        )
    assert b"Unknown role superuser" in response.content


def test_it_answers_htmx_with_the_updated_list(client_for, alice, bob, home, membership_of):
    response = client_for(alice).post(
        url(home, membership_of(bob, home)), {"role": "viewer"}, HTTP_HX_REQUEST="true", follow=True
    )
    assert response.status_code == 200
    assert b"bob@example.com is now viewer" in response.content


def test_it_hides_other_homes(
    client_for, charlie, bob, home, charlies_home, membership_of, unchanged
):
    client = client_for(charlie)
    with unchanged():
        assert (
            client.post(url(home, membership_of(bob, home)), {"role": "viewer"}).status_code == 404
        )
        # Charlie owns his home, but bob's membership is not in it.
        response = client.post(url(charlies_home, membership_of(bob, home)), {"role": "viewer"})
        assert response.status_code == 404


def test_members_and_viewers_cannot_change_roles(
    client_for, bob, vera, home, membership_of, unchanged
):
    for user in (bob, vera):
        with unchanged():
            response = client_for(user).post(
                url(home, membership_of(vera, home)), {"role": "owner"}
            )
        assert response.status_code == 403
    assert Membership.objects.get(user=vera, home=home).role == "viewer"
