from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "data_platform.webapp.pipeline"
    label = "pipeline"
    verbose_name = "Pipeline (clustering runs, ingestion state)"
