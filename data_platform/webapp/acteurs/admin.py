"""Actors, read-only: the imported layer and the revision layer (parents and corrections)."""
from django.contrib import admin

from data_platform.webapp.acteurs.models import Acteur, RevisionActeur
from data_platform.webapp.suggestions.admin import ReadOnlyMixin


class FrenchColumns:
    """Column headers with their accents (the models' field names have none)."""

    @admin.display(description="type d'acteur", ordering="acteur_type")
    def type_acteur(self, obj):
        return obj.acteur_type

    @admin.display(description="modifié le (heure de Paris)", ordering="modifie_le")
    def modifie(self, obj):
        return obj.modifie_le


@admin.register(Acteur)
class ActeurAdmin(FrenchColumns, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("identifiant_unique", "nom", "source", "type_acteur", "code_postal", "ville", "statut",
                    "modifie")
    list_filter = ("statut", "source", "acteur_type")
    search_fields = ("=identifiant_unique", "nom", "siret", "code_postal")
    list_select_related = ("source", "acteur_type")
    show_full_result_count = False


@admin.register(RevisionActeur)
class RevisionActeurAdmin(FrenchColumns, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("identifiant_unique", "nom", "parent", "statut", "modifie")
    list_filter = ("statut",)
    search_fields = ("=identifiant_unique", "nom", "=parent__identifiant_unique")
    show_full_result_count = False
