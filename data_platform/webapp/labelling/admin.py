"""Admin of the labelling app: the "Étiqueter des paires" page (one candidate pair at a time, side by
side as on a suggestion's page; Oui / Non / Je ne sais pas, keys o / n / i; a counter and the
current model's cross-validated quality; retraining every few labels) and the list of stored labels.

Both require a login and the reviewers' permission (`suggestions.decide_suggestion`, group
`reviewer`); others get 403. Django's CSRF middleware protects the POST. The work is done by
data_platform.labels.pair_label on the platform's psycopg2 connection (`db.connection.connect`: one
transaction per request, committed before the redirect).
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from data_platform.db.connection import connect
from data_platform.webapp.labelling.models import PairLabel, PairLabellingPage
from data_platform.webapp.suggestions import presentation
from data_platform.webapp.suggestions.admin import DECIDE_PERM

KEYS = {"o": "oui", "n": "non", "i": "incertain"}


def may_label(request) -> bool:
    return request.user.is_active and request.user.has_perm(DECIDE_PERM)


class _ReviewerOnly:
    def has_module_permission(self, request):
        return may_label(request)

    def has_view_permission(self, request, obj=None):
        return may_label(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PairLabellingPage)
class PairLabellingPageAdmin(_ReviewerOnly, admin.ModelAdmin):
    """/admin/labelling/pairlabellingpage/: the page (GET) and its answers (POST …/repondre/)."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("repondre/", view(require_POST(self.answer_view)), name="labelling_answer"),
                path("", view(self.changelist_view), name="labelling_pairlabellingpage_changelist")]

    def changelist_view(self, request, extra_context=None):
        if not may_label(request):
            raise PermissionDenied
        with connect() as conn:
            return self._page(request, conn)

    def _page(self, request, conn):
        from data_platform.labels import pair_label as PL

        page = PL.page_pool(conn)
        learner, model_id = PL.learner(conn, page)
        k = learner.next_pair()
        pair = None
        if k is not None:
            prob = float(learner.probabilities[k])
            contexte = PL.pair_context(page, k, prob, learner.model)
            p = contexte["paires"][0]
            pair = {"left_id": p["id_a"], "right_id": p["id_b"], "probability": prob,
                    "departement": str(page.pool.departement[k]), "distance_m": p["distance_m"],
                    "cluster": presentation.cluster_table(contexte), "paires": presentation.pairs_table(contexte),
                    "weights": sorted(p["weights"].items(), key=lambda kv: -abs(kv[1])),
                    "match_weight": p["match_weight"]}
        counts = PL.counts(conn)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": "Étiqueter des paires",
            "pair": pair, "counts": counts, "n_labels": counts["oui"] + counts["non"],
            "model_id": model_id, "model": _model_row(conn, model_id), "model_kind": learner.model.kind,
            "retrain_every": PL.RETRAIN_EVERY, "threshold": PL.THRESHOLD,
            "pool_pairs": len(page.pool), "pool_actors": len(page.pool.ids),
            "pool_departements": len(set(page.pool.departement.tolist())),
            "keys": KEYS,
        }
        return TemplateResponse(request, "admin/labelling/label_pair.html", context)

    def answer_view(self, request):
        from data_platform.labels import pair_label as PL

        if not may_label(request):
            raise PermissionDenied
        label = request.POST.get("label", "")
        left, right = request.POST.get("left_id", ""), request.POST.get("right_id", "")
        try:
            model_id = int(request.POST["model_id"]) if request.POST.get("model_id") else None
            probability = float(request.POST["probability"]) if request.POST.get("probability") else None
        except ValueError:
            model_id = probability = None
        with connect() as conn:
            page = PL.page_pool(conn)
            try:
                PL.record(conn, page, left, right, label, request.user.get_username(), model_id, probability)
            except ValueError as exc:
                messages.error(request, f"Réponse non enregistrée : {exc}.")
                return HttpResponseRedirect(reverse("admin:labelling_pairlabellingpage_changelist"))
            if PL.needs_retraining(conn):
                new_id = PL.retrain(conn, page, request.user.get_username())
                row = _model_row(conn, new_id)
                messages.success(request, f"Modèle réentraîné sur {row['n_labels']} étiquettes : modèle {new_id} "
                                          f"({row['kind']}), utilisé par le prochain run (model = latest).")
        return HttpResponseRedirect(reverse("admin:labelling_pairlabellingpage_changelist"))


def _model_row(conn, model_id):
    if model_id is None:
        return None
    with conn.cursor() as cur:
        cur.execute("select id, kind, name, n_labels, cv_precision, cv_recall, trained_on, created_by, created_at "
                    "from match_model where id = %s", (model_id,))
        row = cur.fetchone()
    keys = ["id", "kind", "name", "n_labels", "cv_precision", "cv_recall", "trained_on", "created_by", "created_at"]
    return dict(zip(keys, row)) if row else None


@admin.register(PairLabel)
class PairLabelAdmin(_ReviewerOnly, admin.ModelAdmin):
    list_display = ("labelled_at", "left_id", "right_id", "label", "labelled_by", "departement", "probability",
                    "model_id")
    list_filter = ("label", "labelled_by", "departement")
    search_fields = ("left_id", "right_id")
    fields = list_display + ("features",)
    readonly_fields = fields
