"""Cohorts (one per clustering run), suggestions (one per cluster) and reviewers' decisions."""
from django.conf import settings
from django.db import models
from django.db.models.functions import Now


class CohorteStatut(models.TextChoices):
    EN_COURS = "running", "En cours"
    TERMINEE = "done", "Terminée"
    ECHEC = "failed", "Échec"


class SuggestionStatut(models.TextChoices):
    A_REVOIR = "to_review", "À revoir"
    APPROUVEE = "approved", "Approuvée"
    EN_APPLICATION = "applying", "En application"
    APPLIQUEE = "applied", "Appliquée"
    ECHEC = "failed", "Échec"
    REJETEE = "rejected", "Rejetée"
    PERIMEE = "stale", "Périmée"


class SuggestionCohorte(models.Model):
    run_id = models.CharField(max_length=255, unique=True)
    dag_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    dag_run_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    type_action = models.CharField(max_length=64, default="clustering", db_default="clustering")
    parametres = models.JSONField(default=dict)
    compteurs = models.JSONField(default=dict)
    statut = models.CharField(max_length=16, choices=CohorteStatut.choices, default=CohorteStatut.TERMINEE,
                              db_default=CohorteStatut.TERMINEE)
    rapport_path = models.TextField(blank=True, default="", db_default="")
    cree_le = models.DateTimeField(db_default=Now(), auto_now_add=True)

    class Meta:
        db_table = "suggestion_cohorte"
        ordering = ["-cree_le", "-id"]

    def __str__(self):
        return f"{self.type_action} {self.run_id}"


class Suggestion(models.Model):
    cohorte = models.ForeignKey(SuggestionCohorte, on_delete=models.CASCADE, related_name="suggestions")
    cluster_id = models.CharField(max_length=255)
    statut = models.CharField(max_length=16, choices=SuggestionStatut.choices, default=SuggestionStatut.A_REVOIR,
                              db_default=SuggestionStatut.A_REVOIR, db_index=True)
    score = models.FloatField(null=True, blank=True)
    departement = models.CharField(max_length=8, blank=True, default="", db_default="", db_index=True)
    taille = models.IntegerField(default=0, db_default=0)
    sources = models.JSONField(default=list, db_default=[])
    # identifiant_unique of every member, sorted: what "the same cluster" means across runs
    membres = models.JSONField(default=list, db_default=[])
    # hash of the sorted member ids (cluster identity) and of their data when suggested (staleness)
    empreinte_membres = models.CharField(max_length=64, db_index=True)
    empreinte_donnees = models.CharField(max_length=64)
    changes = models.JSONField(default=list)
    contexte = models.JSONField(default=dict)
    erreur = models.TextField(blank=True, default="", db_default="")
    cree_le = models.DateTimeField(db_default=Now(), auto_now_add=True)
    modifie_le = models.DateTimeField(db_default=Now(), auto_now=True)
    applique_le = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "suggestion"
        ordering = ["-score", "id"]
        permissions = [("decide_suggestion", "Can approve, reject or edit suggestions")]
        indexes = [models.Index(fields=["cohorte", "statut"])]

    def __str__(self):
        return f"Suggestion {self.pk} ({self.taille} acteurs)"


class SuggestionDecision(models.Model):
    suggestion = models.ForeignKey(Suggestion, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=32)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, blank=True, default="", db_default="")
    statut_avant = models.CharField(max_length=16, blank=True, default="", db_default="")
    statut_apres = models.CharField(max_length=16, blank=True, default="", db_default="")
    commentaire = models.TextField(blank=True, default="", db_default="")
    snapshot = models.JSONField(default=dict)
    decide_le = models.DateTimeField(db_default=Now(), auto_now_add=True)

    class Meta:
        db_table = "suggestion_decision"
        ordering = ["-decide_le", "-id"]
