from django.apps import AppConfig


class LabellingConfig(AppConfig):
    name = "data_platform.webapp.labelling"
    label = "labelling"
    verbose_name = "Étiquetage des paires (apprentissage actif)"
