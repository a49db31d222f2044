from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("pipeline", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="clusterrun",
            name="error",
            field=models.TextField(blank=True, db_default="", default=""),
        ),
    ]
