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


def test_the_switcher_lists_only_the_users_homes(client_for, alice, home, charlies_home):
    from accounts.actions import do_create_home

    do_create_home(alice, "Cabin")
    content = client_for(alice).get("/").content.decode()
    assert 'id="home-switch"' in content
    assert "Cabin" in content and "Alice&#x27;s Home" in content
    assert "Charlie" not in content


def test_a_viewer_can_switch_homes_too(client_for, vera, home):
    from accounts.actions import do_create_home

    own = do_create_home(vera, "Vera's Flat")
    client = client_for(vera)
    assert client.post("/homes/switch/", {"home": str(own.code)}).status_code == 302
    assert client.session["home_code"] == str(own.code)


def test_a_garbage_home_code_is_404(client_for, alice, home):
    response = client_for(alice).post("/homes/switch/", {"home": "not-a-uuid"})
    assert response.status_code == 404
