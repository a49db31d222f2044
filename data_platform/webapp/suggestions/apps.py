from django.apps import AppConfig


class SuggestionsConfig(AppConfig):
    name = "data_platform.webapp.suggestions"
    label = "suggestions"
    verbose_name = "Suggestions de fusion"
