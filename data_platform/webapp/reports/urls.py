from django.urls import path

from data_platform.webapp.reports import views

app_name = "reports"
urlpatterns = [
    path("run/", views.run_report, name="run"),
    path("plotly.js", views.plotly_js, name="plotly_js"),
]
