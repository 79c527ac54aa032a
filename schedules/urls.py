from django.urls import path

from schedules import views

urlpatterns = [
    path("", views.schedule_list, name="schedule_list"),
    path("new/", views.schedule_new, name="schedule_new"),
    path("preview/", views.schedule_preview, name="schedule_preview"),
    path("<uuid:code>/", views.schedule_edit, name="schedule_edit"),
    path("<uuid:code>/enabled/", views.schedule_enabled, name="schedule_enabled"),
    path("<uuid:code>/delete/", views.schedule_delete, name="schedule_delete"),
]
