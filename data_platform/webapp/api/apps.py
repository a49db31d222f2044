from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "data_platform.webapp.api"
    label = "api"
    verbose_name = "API (correspondance en temps réel)"
