def test_it_switches_to_a_home_of_the_user(client_for, alice, home, charlie, charlies_home):
    from accounts.actions import do_create_home

    second = do_create_home(alice, "Cabin")
    client = client_for(alice)
    response = client.post("/homes/switch/", {"home": str(second.code)})
    assert response.status_code == 302
    assert client.session["home_code"] == str(second.code)


def test_it_hides_other_homes(client_for, alice, home, charlies_home):
    client = client_for(alice)
    response = client.post("/homes/switch/", {"home": str(charlies_home.code)})
    assert response.status_code == 404
    assert "home_code" not in client.session


def test_it_shows_the_empty_state(client_for, alice, home):
    response = client_for(alice).get("/")
    assert response.status_code == 200
    assert b"No lights yet" in response.content
