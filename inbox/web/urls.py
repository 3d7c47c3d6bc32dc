from django.urls import path

from inbox.web import views

urlpatterns = [
    path("inbox/", views.home, name="home"),
]
