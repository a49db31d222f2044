from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/rapports/", include("data_platform.webapp.reports.urls")),  # run reports (before the admin)
    path("admin/", admin.site.urls),
    path("api/", include("data_platform.webapp.api.urls")),  # POST /api/match (token, rate-limited)
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
