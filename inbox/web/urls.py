from django.urls import path

from inbox.web import insights, views

urlpatterns = [
    path("inbox/", views.home, name="home"),
    path("insights/", insights.insights_page, name="insights"),
    path("insights/export.csv", insights.insights_csv, name="insights_csv"),
]
