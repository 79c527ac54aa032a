def test_signing_out_ends_the_session(client_for, alice, home):
    client = client_for(alice)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_sign_out_page_asks_first(client_for, alice, home):
    response = client_for(alice).get("/accounts/logout/")
    assert response.status_code == 200
    assert b"Sign out of Smart Light on this device?" in response.content
