"""Actors, in the layers of SPEC §2.1. Plain table names so that dbt and SQL tasks read them directly.

Text fields are '' rather than NULL when empty, with database defaults so that bulk COPY and plain
SQL inserts get the same guarantees as the ORM.
"""
from django.db import models
from django.db.models.functions import Now

STATUTS = [("ACTIF", "Actif"), ("INACTIF", "Inactif"), ("SUPPRIME", "Supprimé")]
STATUT_VALUES = [s for s, _ in STATUTS]
TEXT_FIELDS = ["identifiant_externe", "nom", "nom_commercial", "siren", "siret", "adresse",
               "adresse_complement", "code_postal", "ville", "telephone", "email", "url"]


def _text(**kw):
    return models.TextField(blank=True, default="", db_default="", **kw)


class CodeTable(models.Model):
    """A reference table of codes (source, acteur_type): the actors' foreign keys point to `code`."""
    code = models.CharField(max_length=64, unique=True)
    libelle = models.CharField(max_length=255)

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self):
        return self.code


class Source(CodeTable):
    url = models.TextField(blank=True, default="", db_default="")

    class Meta(CodeTable.Meta):
        db_table = "source"


class ActeurType(CodeTable):
    class Meta(CodeTable.Meta):
        db_table = "acteur_type"


class ActeurFields(models.Model):
    identifiant_externe = _text()
    nom = _text()
    nom_commercial = _text()
    siren = _text()
    siret = _text()
    adresse = _text()
    adresse_complement = _text()
    code_postal = _text()
    ville = _text()
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    telephone = _text()
    email = _text()
    url = _text()
    cree_le = models.DateTimeField(db_default=Now(), auto_now_add=True)
    modifie_le = models.DateTimeField(db_default=Now(), auto_now=True)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.identifiant_unique} {self.nom}"


class Acteur(ActeurFields):
    """Imported layer: one row per actor as its source last published it."""
    identifiant_unique = models.CharField(max_length=255, primary_key=True)
    source = models.ForeignKey(Source, to_field="code", db_column="source", on_delete=models.PROTECT,
                               related_name="acteurs")
    acteur_type = models.ForeignKey(ActeurType, to_field="code", db_column="acteur_type",
                                    on_delete=models.PROTECT, related_name="acteurs")
    statut = models.CharField(max_length=16, choices=STATUTS, default="ACTIF", db_default="ACTIF")

    class Meta:
        db_table = "acteur"
        indexes = [models.Index(fields=["source"]), models.Index(fields=["code_postal"])]


class RevisionActeur(ActeurFields):
    """Corrections on top of `acteur` (only overridden fields filled) and the parents (no source)."""
    identifiant_unique = models.CharField(max_length=255, primary_key=True)
    source = models.ForeignKey(Source, to_field="code", db_column="source", on_delete=models.PROTECT,
                               null=True, blank=True, related_name="revisions")
    acteur_type = models.ForeignKey(ActeurType, to_field="code", db_column="acteur_type",
                                    on_delete=models.PROTECT, null=True, blank=True, related_name="revisions")
    statut = models.CharField(max_length=16, choices=STATUTS, blank=True, default="", db_default="")
    parent = models.ForeignKey("self", db_column="parent_id", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="enfants")

    class Meta:
        db_table = "revision_acteur"
        indexes = [models.Index(fields=["parent"])]


class GroundTruth(models.Model):
    """Which generated rows are the same place (kept by the demo generator, read by `evaluate`)."""
    identifiant_unique = models.CharField(max_length=255, primary_key=True)
    entity_id = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=32, blank=True, default="", db_default="")

    class Meta:
        db_table = "ground_truth"
