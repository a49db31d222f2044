"""The API's rate-limit windows: one row per (token, fixed window), counted by an atomic upsert."""
from django.db import models


class ApiRateWindow(models.Model):
    token_key = models.CharField(max_length=64)        # sha256 of the token (never the token itself)
    window_start = models.BigIntegerField()             # epoch seconds, a multiple of the window length
    requests = models.IntegerField(default=0)

    class Meta:
        db_table = "api_rate_window"
        constraints = [models.UniqueConstraint(fields=["token_key", "window_start"], name="api_rate_window_key")]
        verbose_name = "fenêtre de limitation de l'API"

    def __str__(self) -> str:
        return f"{self.token_key[:8]}… @{self.window_start}: {self.requests}"
