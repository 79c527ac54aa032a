from django.urls import path

from devices import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("live/", views.live, name="devices_live"),
    path("lights/<uuid:code>/state/", views.set_state, name="device_state"),
    path("lights/<uuid:code>/", views.device_edit, name="device_edit"),
    path("lights/<uuid:code>/delete/", views.device_delete, name="device_delete"),
    path("rooms/", views.room_create, name="room_create"),
    path("rooms/<uuid:code>/", views.room_edit, name="room_edit"),
    path("rooms/<uuid:code>/state/", views.set_room_state, name="room_state"),
    path("rooms/<uuid:code>/delete/", views.room_delete, name="room_delete"),
    path("scenes/", views.scene_create, name="scene_create"),
    path("scenes/<uuid:code>/apply/", views.scene_apply, name="scene_apply"),
    path("scenes/<uuid:code>/delete/", views.scene_delete, name="scene_delete"),
]
