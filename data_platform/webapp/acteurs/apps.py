from django.apps import AppConfig


class ActeursConfig(AppConfig):
    name = "data_platform.webapp.acteurs"
    label = "acteurs"
    verbose_name = "Acteurs"
