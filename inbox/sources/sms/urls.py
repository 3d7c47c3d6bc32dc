from django.urls import URLPattern

urlpatterns: list[URLPattern] = []  # written with the SMS source
