from django.urls import path

from accounts import views

urlpatterns = [
    path("homes/switch/", views.switch_home, name="switch_home"),
    path("homes/new/", views.home_new, name="home_new"),
    path("homes/<uuid:code>/settings/", views.home_settings, name="home_settings"),
    path("homes/<uuid:code>/members/", views.members, name="members"),
    path("homes/<uuid:code>/members/invite/", views.invite, name="invite"),
    path(
        "homes/<uuid:code>/members/<uuid:member_code>/role/",
        views.change_role,
        name="change_role",
    ),
    path(
        "homes/<uuid:code>/members/<uuid:member_code>/remove/",
        views.remove_member,
        name="remove_member",
    ),
    path(
        "homes/<uuid:code>/invitations/<uuid:invitation_code>/revoke/",
        views.revoke_invitation,
        name="revoke_invitation",
    ),
    path("homes/<uuid:code>/leave/", views.leave_home, name="leave_home"),
    path("invitations/<uuid:code>/", views.invitation, name="invitation"),
    path("tokens/", views.api_tokens, name="api_tokens"),
    path("tokens/<uuid:code>/revoke/", views.revoke_api_token, name="revoke_api_token"),
]
