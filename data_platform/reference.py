"""Reference data loaded by `data-platform migrate`: sources, actor types, the reviewer group."""
from __future__ import annotations

ACTEUR_TYPES = [
    ("ess", "Acteur de l'économie sociale et solidaire"),
    ("collectivite", "Collectivité"),
    ("artisan", "Artisan, commerce indépendant"),
    ("commerce", "Commerce"),
    ("acteur_digital", "Acteur digital"),
    ("decheterie", "Déchèterie"),
    ("ets_sante", "Établissement de santé"),
    ("plateforme_inertes", "Plateforme inertes"),
    ("pav_public", "Point d'apport volontaire public"),
    ("pav_prive", "Point d'apport volontaire privé"),
    ("pav_ponctuel", "Point d'apport volontaire ponctuel"),
]

# Source codes: lower-case ASCII, they prefix identifiant_unique (SPEC §2.1).
SOURCES = [
    ("refashion", "Refashion", "https://data.pointsapport.ademe.fr/datasets/donnees-eo-refashion"),
    ("ecosystem", "Ecosystem", "https://data.pointsapport.ademe.fr/datasets/donnees-eo-ecosystem"),
    ("ecomaison", "Ecomaison", "https://data.pointsapport.ademe.fr/datasets/donnees-eo-ecomaison"),
    ("corepile", "Corepile", "https://data.pointsapport.ademe.fr/datasets/donnees-eo-corepile-ecosystem"),
    ("batribox", "Batribox", "https://data.ademe.fr/datasets/donnees-eo-batribox"),
    ("aliapur", "Aliapur", "https://data.pointsapport.ademe.fr/datasets/donnees-eo-aliapur"),
    ("sinoe", "SINOE déchèteries", "https://data.ademe.fr/datasets/sinoe-(r)-annuaire-des-decheteries-dma"),
    ("cma", "CMA Répar'acteurs", ""),
    ("communaute", "Contributions de la communauté", ""),
    ("cyclevia", "Cyclevia", ""),
    ("ecodds", "EcoDDS", ""),
    ("cyclamed", "Cyclamed", ""),
]

# Sources in order of trust when choosing a parent's data (SPEC §3.1 step 5): the default of the run parameter
# `parent_source_priority`.
PARENT_SOURCE_PRIORITY = ("sinoe", "refashion", "ecosystem", "ecomaison", "corepile", "batribox", "aliapur", "cma",
                          "cyclevia", "ecodds", "cyclamed", "communaute")

REVIEWER_GROUP = "reviewer"


def ensure_reference_data() -> dict:
    """Upsert sources and actor types; create the reviewer group with its permissions. Idempotent."""
    from django.contrib.auth.models import Group, Permission
    from django.db import transaction

    from data_platform.webapp.acteurs.models import ActeurType, Source

    with transaction.atomic():
        for code, libelle in ACTEUR_TYPES:
            ActeurType.objects.update_or_create(code=code, defaults={"libelle": libelle})
        for code, libelle, url in SOURCES:
            Source.objects.update_or_create(code=code, defaults={"libelle": libelle, "url": url})
        group, _ = Group.objects.get_or_create(name=REVIEWER_GROUP)
        perms = Permission.objects.filter(
            content_type__app_label="suggestions",
            codename__in=["decide_suggestion", "view_suggestion", "change_suggestion",
                          "view_suggestioncohorte", "view_suggestiondecision"])
        group.permissions.set(perms)
    return {"sources": len(SOURCES), "acteur_types": len(ACTEUR_TYPES)}
