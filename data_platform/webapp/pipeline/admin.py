"""Clustering runs, read-only."""
from django.contrib import admin

from data_platform.webapp.pipeline.models import ClusterRun
from data_platform.webapp.suggestions.admin import ReadOnlyMixin


@admin.register(ClusterRun)
class ClusterRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("run_id", "status", "started_at", "finished_at", "report_path")
    list_filter = ("status",)
    search_fields = ("run_id", "dag_run_id")
