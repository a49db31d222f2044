"""Pairs labelled by a person on the admin's "Étiqueter des paires" page (issue 8, item 4).

One row per pair (left_id < right_id; answering again replaces the answer): the label, who and
when, the model that chose the pair and its probability then, and the comparison vector the person
judged (`features`: levels, term frequencies, distance, partition size — data_platform.labels.pair_label),
so that retraining reads this table alone. "oui" / "non" are labels for the match model and for
the reviewer memory (cannot-/must-links, data_platform.labels.reviewer); "incertain" is neither,
the pair is just not asked again."""
from django.db import models
from django.db.models.functions import Now


class PairLabelValue(models.TextChoices):
    OUI = "oui", "Oui, le même lieu"
    NON = "non", "Non"
    INCERTAIN = "incertain", "Je ne sais pas"


class PairLabel(models.Model):
    id = models.BigAutoField(primary_key=True)
    left_id = models.CharField(max_length=255)
    right_id = models.CharField(max_length=255)
    label = models.CharField(max_length=16, choices=PairLabelValue.choices)
    labelled_by = models.CharField(max_length=255, blank=True, default="", db_default="")
    labelled_at = models.DateTimeField(db_default=Now(), auto_now=True)
    model_id = models.BigIntegerField(null=True, blank=True)  # the match_model that chose the pair (null: EM of the pool)
    probability = models.FloatField(null=True, blank=True)  # its probability under that model
    departement = models.CharField(max_length=8, blank=True, default="", db_default="")
    features = models.JSONField(default=dict)

    class Meta:
        db_table = "pair_label"
        verbose_name = "étiquette de paire"
        verbose_name_plural = "étiquettes de paires"
        ordering = ["-labelled_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["left_id", "right_id"], name="pair_label_one_per_pair"),
            models.CheckConstraint(condition=models.Q(left_id__lt=models.F("right_id")), name="pair_label_ordered"),
            models.CheckConstraint(condition=models.Q(label__in=["oui", "non", "incertain"]), name="pair_label_value"),
        ]


class PairLabellingPage(PairLabel):
    """The labelling page's entry in the admin index (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "Étiqueter des paires"
        verbose_name_plural = "Étiqueter des paires"
