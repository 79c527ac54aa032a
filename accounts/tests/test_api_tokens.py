from accounts.models import ApiToken, hash_token


def test_it_creates_a_token_and_shows_the_raw_value_once(client_for, alice, home):
    client = client_for(alice)
    response = client.post("/tokens/", {"name": "kitchen script"})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=alice)
    assert token.name == "kitchen script"
    raw = response.context["raw_token"]
    assert raw.startswith("sl_") and raw.encode() in response.content
    assert token.token_hash == hash_token(raw)
    # Listed afterwards by name and prefix, never again in full.
    listing = client.get("/tokens/")
    assert b"kitchen script" in listing.content
    assert token.prefix.encode() in listing.content
    assert raw.encode() not in listing.content


def test_the_new_token_authenticates_the_api(client_for, alice, home, rf):
    from accounts.api_auth import ApiTokenAuth

    raw = client_for(alice).post("/tokens/", {"name": "ci"}).context["raw_token"]
    request = rf.get("/api/v1/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert ApiTokenAuth()(request) == alice
    assert ApiToken.objects.get(user=alice).last_used is not None


def test_it_lists_only_the_users_own_tokens(client_for, alice, charlie, home):
    ApiToken.issue(charlie, "charlies secret")
    response = client_for(alice).get("/tokens/")
    assert b"charlies secret" not in response.content


def test_it_rejects_a_blank_name(client_for, alice, home, unchanged):
    with unchanged():
        response = client_for(alice).post("/tokens/", {"name": "  "})
    assert response.status_code == 400
    assert b"This field is required" in response.content


def test_any_role_may_have_personal_tokens(client_for, vera, home):
    assert client_for(vera).post("/tokens/", {"name": "viewer dash"}).status_code == 200
    assert ApiToken.objects.filter(user=vera).count() == 1


def test_it_requires_sign_in(client, db):
    assert client.get("/tokens/").status_code == 302
