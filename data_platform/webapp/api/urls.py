from django.urls import path

from data_platform.webapp.api import views

app_name = "api"
urlpatterns = [path("match", views.match, name="match")]
