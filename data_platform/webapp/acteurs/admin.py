"""Actors, read-only: the imported layer and the revision layer (parents and corrections)."""
from django.contrib import admin

from data_platform.webapp.acteurs.models import Acteur, RevisionActeur
from data_platform.webapp.suggestions.admin import ReadOnlyMixin


@admin.register(Acteur)
class ActeurAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("identifiant_unique", "nom", "source", "acteur_type", "code_postal", "ville", "statut",
                    "modifie_le")
    list_filter = ("statut", "source", "acteur_type")
    search_fields = ("=identifiant_unique", "nom", "siret", "code_postal")
    list_select_related = ("source", "acteur_type")
    show_full_result_count = False


@admin.register(RevisionActeur)
class RevisionActeurAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("identifiant_unique", "nom", "parent", "statut", "modifie_le")
    list_filter = ("statut",)
    search_fields = ("=identifiant_unique", "nom", "=parent__identifiant_unique")
    show_full_result_count = False
