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


class DecisionType(models.TextChoices):
    APPROUVER = "approve", "Approbation"
    REJETER = "reject", "Rejet"
    RETIRER = "remove_member", "Retrait d'un membre"
    PERIMEE = "stale", "Périmée (données changées)"
    ANNULER = "undo", "Annulation d'une décision"


class MotifRejet(models.TextChoices):
    """Why a reviewer rejects (stored with the decision; free text goes to `commentaire`)."""
    LIEUX_DIFFERENTS = "lieux_differents", "Pas le même lieu"
    AUTRE_SITE = "autre_site", "Même enseigne, autre établissement"
    MEMBRE_EN_TROP = "membre_en_trop", "Un membre n'a rien à faire ici"
    PARENT_INCORRECT = "parent_incorrect", "Données du parent incorrectes"
    DONNEES_DOUTEUSES = "donnees_douteuses", "Données des sources douteuses"
    AUTRE = "autre", "Autre (préciser)"


PARIS = " (heure de Paris)"


class SuggestionCohorte(models.Model):
    run_id = models.CharField("run", max_length=255, unique=True)
    dag_id = models.CharField("DAG", max_length=255, blank=True, default="", db_default="")
    dag_run_id = models.CharField("run Airflow", max_length=255, blank=True, default="", db_default="")
    type_action = models.CharField("type d'action", max_length=64, default="clustering", db_default="clustering")
    parametres = models.JSONField("paramètres", default=dict)
    compteurs = models.JSONField(default=dict)
    statut = models.CharField(max_length=16, choices=CohorteStatut.choices, default=CohorteStatut.TERMINEE,
                              db_default=CohorteStatut.TERMINEE)
    rapport_path = models.TextField("rapport", blank=True, default="", db_default="")
    cree_le = models.DateTimeField("créée le" + PARIS, db_default=Now(), auto_now_add=True)

    class Meta:
        db_table = "suggestion_cohorte"
        ordering = ["-cree_le", "-id"]
        verbose_name = "cohorte de suggestions"
        verbose_name_plural = "cohortes de suggestions"

    def __str__(self):
        return f"{self.type_action} {self.run_id}"


class Suggestion(models.Model):
    cohorte = models.ForeignKey(SuggestionCohorte, on_delete=models.CASCADE, related_name="suggestions")
    cluster_id = models.CharField("cluster", max_length=255)
    statut = models.CharField(max_length=16, choices=SuggestionStatut.choices, default=SuggestionStatut.A_REVOIR,
                              db_default=SuggestionStatut.A_REVOIR, db_index=True)
    score = models.FloatField(null=True, blank=True)
    departement = models.CharField("département", max_length=8, blank=True, default="", db_default="", db_index=True)
    taille = models.IntegerField("membres des changements (parent à créer compris)", default=0, db_default=0)
    sources = models.JSONField(default=list, db_default=[])
    # identifiant_unique of every member, sorted: what "the same cluster" means across runs
    membres = models.JSONField(default=list, db_default=[])
    # hash of the sorted member ids (cluster identity) and of their data when suggested (staleness)
    empreinte_membres = models.CharField(max_length=64, db_index=True)
    empreinte_donnees = models.CharField(max_length=64)
    changes = models.JSONField(default=list)
    contexte = models.JSONField(default=dict)
    erreur = models.TextField(blank=True, default="", db_default="")
    cree_le = models.DateTimeField("créée le" + PARIS, db_default=Now(), auto_now_add=True)
    modifie_le = models.DateTimeField("modifiée le" + PARIS, db_default=Now(), auto_now=True)
    applique_le = models.DateTimeField("appliquée le" + PARIS, null=True, blank=True)

    class Meta:
        db_table = "suggestion"
        ordering = ["-score", "id"]
        permissions = [("decide_suggestion", "Can approve, reject or edit suggestions")]
        indexes = [models.Index(fields=["cohorte", "statut"])]
        verbose_name = "suggestion"
        verbose_name_plural = "suggestions"

    @property
    def nb_acteurs(self) -> int:
        """THE actor count (list, page, bulk confirmation): the existing actors the suggestion touches,
        i.e. `contexte.membres` (`taille` also counts the parent to create). SQL twin: `nb_acteurs_sql()`."""
        return len((self.contexte or {}).get("membres") or [])

    @staticmethod
    def nb_acteurs_sql():
        from django.db.models import Func, IntegerField
        from django.db.models.fields.json import KeyTransform

        return Func(KeyTransform("membres", "contexte"), function="jsonb_array_length", output_field=IntegerField())

    def __str__(self):
        return f"Suggestion {self.pk} ({self.nb_acteurs} acteurs)"


class SuggestionDecision(models.Model):
    suggestion = models.ForeignKey(Suggestion, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=32, choices=DecisionType.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="utilisateur", null=True,
                             on_delete=models.SET_NULL)
    username = models.CharField("qui", max_length=150, blank=True, default="", db_default="")
    statut_avant = models.CharField("statut avant", max_length=16, choices=SuggestionStatut.choices, blank=True,
                                    default="", db_default="")
    statut_apres = models.CharField("statut après", max_length=16, choices=SuggestionStatut.choices, blank=True,
                                    default="", db_default="")
    commentaire = models.TextField(blank=True, default="", db_default="")
    # why a reviewer rejected (MotifRejet); NULL for other decisions and older rejections
    motif = models.CharField("motif du rejet", max_length=32, choices=MotifRejet.choices, null=True, blank=True)
    # set when the decision was undone (the suggestion went back to to_review; an `undo` row says who and when)
    annulee_le = models.DateTimeField("annulée le" + PARIS, null=True, blank=True)
    snapshot = models.JSONField(default=dict)
    decide_le = models.DateTimeField("décidée le" + PARIS, db_default=Now(), auto_now_add=True)

    class Meta:
        db_table = "suggestion_decision"
        ordering = ["-decide_le", "-id"]
        verbose_name = "décision"
        verbose_name_plural = "décisions"

    @property
    def transition(self) -> str:
        """« À revoir → Approuvée »."""
        labels = dict(SuggestionStatut.choices)
        return f"{labels.get(self.statut_avant, self.statut_avant)} → {labels.get(self.statut_apres, self.statut_apres)}"
