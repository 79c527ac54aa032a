from django.urls import path

from devices import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("lights/add/", views.light_add, name="light_add"),
    path("claim/<str:code>", views.light_add, name="claim"),
    path("claim/<str:code>/", views.light_add),
    path("lights/<uuid:code>/setup/", views.light_setup, name="light_setup"),
    path("lights/<uuid:code>/setup/steps/", views.light_setup_status, name="light_setup_steps"),
    path("lights/<uuid:code>/blink/", views.light_blink, name="light_blink"),
    path("lights/<uuid:code>/state/", views.set_state, name="device_state"),
    path("lights/<uuid:code>/", views.device_edit, name="device_edit"),
    path("lights/<uuid:code>/delete/", views.device_delete, name="device_delete"),
    path("rooms/", views.room_create, name="room_create"),
    path("rooms/<uuid:code>/", views.room_edit, name="room_edit"),
    path("rooms/<uuid:code>/state/", views.set_room_state, name="room_state"),
    path("rooms/<uuid:code>/delete/", views.room_delete, name="room_delete"),
    path("scenes/", views.scene_create, name="scene_create"),
    path("scenes/<uuid:code>/", views.scene_edit, name="scene_edit"),
    path("scenes/<uuid:code>/apply/", views.scene_apply, name="scene_apply"),
    path("scenes/<uuid:code>/delete/", views.scene_delete, name="scene_delete"),
]
