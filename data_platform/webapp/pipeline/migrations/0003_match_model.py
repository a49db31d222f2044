import django.db.models.functions.datetime
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("pipeline", "0002_clusterrun_error"),
    ]

    operations = [
        migrations.AddField(
            model_name="clusterrun",
            name="model_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="MatchModel",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("kind", models.CharField(max_length=64)),
                ("name", models.CharField(blank=True, db_default="", default="", max_length=255)),
                ("comparisons", models.JSONField(default=list)),
                ("parameters", models.JSONField(default=dict)),
                ("n_labels", models.IntegerField(db_default=0, default=0)),
                ("cv_precision", models.FloatField(blank=True, null=True)),
                ("cv_recall", models.FloatField(blank=True, null=True)),
                ("trained_on", models.TextField(blank=True, db_default="", default="")),
                ("created_by", models.CharField(blank=True, db_default="", default="", max_length=255)),
                ("created_at", models.DateTimeField(auto_now_add=True,
                                                    db_default=django.db.models.functions.datetime.Now())),
            ],
            options={
                "db_table": "match_model",
                "indexes": [models.Index(fields=["-created_at", "-id"], name="match_model_newest")],
            },
        ),
    ]
