from accounts.models import Home, Membership


def test_it_creates_a_home_owned_by_the_user_and_switches_to_it(client_for, bob, home):
    client = client_for(bob)
    response = client.post("/homes/new/", {"name": "Cabin", "timezone": "Europe/Oslo"})
    assert response.status_code == 302
    cabin = Home.objects.get(name="Cabin")
    assert cabin.timezone == "Europe/Oslo"
    assert Membership.objects.get(user=bob, home=cabin).role == "owner"
    assert client.session["home_code"] == str(cabin.code)


def test_it_rejects_an_unknown_timezone(client_for, bob, home, unchanged):
    with unchanged():
        response = client_for(bob).post("/homes/new/", {"name": "Cabin", "timezone": "Nowhere"})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content


def test_it_requires_sign_in(client, db):
    assert client.get("/homes/new/").status_code == 302
