"""allauth's other pages render inside the portal shell (templates/account overrides)."""

import pytest

PAGES = ["/accounts/email/", "/accounts/password/change/", "/accounts/3rdparty/"]


@pytest.mark.parametrize("path", PAGES)
def test_account_management_pages_render_in_the_shell(client_for, alice, home, path):
    response = client_for(alice).get(path)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'class="auth-page"' in content
    assert 'aria-label="Main"' in content  # the portal's navigation is there
    assert 'aria-label="Account"' in content


def test_the_password_reset_page_renders_in_the_shell(client, db):
    response = client.get("/accounts/password/reset/")
    assert response.status_code == 200
    assert 'class="auth-page"' in response.content.decode()


def test_connections_offer_to_link_cognito_when_enabled(client_for, alice, home, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "amazon_cognito": {
            "DOMAIN": "https://example.auth.eu-west-1.amazoncognito.com",
            "APPS": [{"client_id": "c", "secret": "s", "settings": {}}],
        }
    }
    content = client_for(alice).get("/accounts/3rdparty/").content.decode()
    assert "Connect Amazon Cognito" in content
    assert 'action="/accounts/amazon-cognito/login/?process=connect"' in content
