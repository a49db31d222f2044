"""Working tables of the pipeline: clustering runs, their clusters and pair scores, ingestion state."""
from django.db import models
from django.db.models.functions import Now


class ClusterRun(models.Model):
    run_id = models.CharField(max_length=255, primary_key=True)
    dag_run_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=32, default="running", db_default="running")  # running|done|failed|empty
    error = models.TextField(blank=True, default="", db_default="")  # why a failed run failed
    stage_seconds = models.JSONField(default=dict, db_default={})
    report_path = models.TextField(blank=True, default="", db_default="")
    started_at = models.DateTimeField(db_default=Now(), auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # the match_model that scored the run (pipeline.train_model); null: the rules scorer, or not trained yet
    model_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "cluster_run"


class MatchModel(models.Model):
    """A saved match model (data_platform.cluster.model_store), versioned by its id: what scored a run,
    exported/imported as one JSON file (`data-platform model export|import|list`)."""
    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=64)  # fellegi_sunter | logistic
    name = models.CharField(max_length=255, blank=True, default="", db_default="")
    comparisons = models.JSONField(default=list)  # [{name, levels}] the model compares
    parameters = models.JSONField(default=dict)  # the model's JSON (model.to_json())
    n_labels = models.IntegerField(default=0, db_default=0)
    cv_precision = models.FloatField(null=True, blank=True)
    cv_recall = models.FloatField(null=True, blank=True)
    trained_on = models.TextField(blank=True, default="", db_default="")  # run id, file, "import: …"
    created_by = models.CharField(max_length=255, blank=True, default="", db_default="")
    created_at = models.DateTimeField(db_default=Now(), auto_now_add=True)

    class Meta:
        db_table = "match_model"
        indexes = [models.Index(fields=["-created_at", "-id"], name="match_model_newest")]


class ClusterMembership(models.Model):
    run = models.ForeignKey(ClusterRun, db_column="run_id", on_delete=models.CASCADE)
    cluster_id = models.CharField(max_length=255)
    identifiant_unique = models.CharField(max_length=255)
    departement = models.CharField(max_length=8, blank=True, default="", db_default="")

    class Meta:
        db_table = "cluster_membership"
        indexes = [models.Index(fields=["run", "cluster_id"]), models.Index(fields=["identifiant_unique"])]
        constraints = [models.UniqueConstraint(fields=["run", "identifiant_unique"], name="one_cluster_per_run")]


class ClusterPair(models.Model):
    run = models.ForeignKey(ClusterRun, db_column="run_id", on_delete=models.CASCADE)
    cluster_id = models.CharField(max_length=255)
    id_a = models.CharField(max_length=255)
    id_b = models.CharField(max_length=255)
    score = models.FloatField()
    details = models.JSONField(default=dict)

    class Meta:
        db_table = "cluster_pair"
        indexes = [models.Index(fields=["run", "cluster_id"])]


class IngestState(models.Model):
    source_code = models.CharField(max_length=64, primary_key=True)
    dataset_id = models.CharField(max_length=255)
    finalized_at = models.CharField(max_length=64, blank=True, default="", db_default="")
    data_updated_at = models.CharField(max_length=64, blank=True, default="", db_default="")
    row_count = models.BigIntegerField(null=True, blank=True)
    last_status = models.CharField(max_length=32, blank=True, default="", db_default="")
    last_message = models.TextField(blank=True, default="", db_default="")
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "ingest_state"


class IngestRejectedRow(models.Model):
    run_id = models.CharField(max_length=255)
    source_code = models.CharField(max_length=64)
    line = models.BigIntegerField(null=True)
    field = models.CharField(max_length=128, blank=True, default="", db_default="")
    reason = models.TextField()
    raw = models.JSONField(default=dict)
    cree_le = models.DateTimeField(db_default=Now(), auto_now_add=True)

    class Meta:
        db_table = "ingest_rejected_row"
        indexes = [models.Index(fields=["run_id", "source_code"])]
