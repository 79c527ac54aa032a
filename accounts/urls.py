from django.urls import path

from accounts import views

urlpatterns = [
    path("homes/switch/", views.switch_home, name="switch_home"),
]
