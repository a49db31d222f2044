"""Review admin: cohorts, suggestions (side by side, decisions), the decision trail.

Everything is read-only through Django's forms. Decisions go through dedicated POST views and
admin actions that require the `suggestions.decide_suggestion` permission (group `reviewer`);
other staff can read, and get 403 if they post. Django's CSRF middleware protects every POST.
"""
from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from data_platform import settings as dp_settings
from data_platform.suggestions import decisions
from data_platform.webapp.suggestions import presentation
from data_platform.webapp.suggestions.models import (
    Suggestion,
    SuggestionCohorte,
    SuggestionDecision,
    SuggestionStatut,
)

DECIDE_PERM = "suggestions.decide_suggestion"


def can_decide(request) -> bool:
    return request.user.is_active and request.user.has_perm(DECIDE_PERM)


class ReadOnlyMixin:
    """No add, change or delete through Django's forms: the change page is a read-only view."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def airflow_run_url(dag_id: str, dag_run_id: str) -> str:
    return f"{dp_settings.airflow_base_url().rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(dag_run_id, safe='')}"


@admin.register(SuggestionCohorte)
class SuggestionCohorteAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("run_id", "cree_le", "type_action", "statut", "nb_suggestions", "nb_a_revoir",
                    "nb_appliquees", "compteurs_resume", "lien_airflow", "lien_suggestions")
    list_filter = ("statut", "type_action")
    search_fields = ("run_id", "dag_run_id")
    date_hierarchy = "cree_le"
    fields = ("run_id", "dag_id", "dag_run_id", "type_action", "statut", "cree_le", "parametres_affiches",
              "compteurs_affiches", "compteurs_live", "rapport_path", "lien_airflow", "lien_suggestions")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _n=Count("suggestions"),
            _to_review=Count("suggestions", filter=Q(suggestions__statut=SuggestionStatut.A_REVOIR)),
            _applied=Count("suggestions", filter=Q(suggestions__statut=SuggestionStatut.APPLIQUEE)))

    def get_urls(self):
        return [path("par-run/", self.admin_site.admin_view(self.by_run_view), name="suggestions_cohorte_by_run"),
                *super().get_urls()]

    def by_run_view(self, request):
        """/admin/suggestions/suggestioncohorte/par-run/?run_id=<Airflow run id>: the cohort of that run."""
        run_id = request.GET.get("run_id", "")
        cohorte = SuggestionCohorte.objects.filter(Q(run_id=run_id) | Q(dag_run_id=run_id)).first()
        if cohorte is None:
            messages.warning(request, f"Aucune cohorte pour le run « {run_id} » (run en cours, dry run, ou autre DAG).")
            return HttpResponseRedirect(reverse("admin:suggestions_suggestioncohorte_changelist"))
        return HttpResponseRedirect(reverse("admin:suggestions_suggestioncohorte_change", args=[cohorte.pk]))

    @admin.display(description="suggestions", ordering="_n")
    def nb_suggestions(self, obj):
        return obj._n

    @admin.display(description="à revoir", ordering="_to_review")
    def nb_a_revoir(self, obj):
        return obj._to_review

    @admin.display(description="appliquées", ordering="_applied")
    def nb_appliquees(self, obj):
        return obj._applied

    @admin.display(description="compteurs")
    def compteurs_resume(self, obj):
        c = obj.compteurs or {}
        return ", ".join(f"{k}: {v}" for k, v in list(c.items())[:6] if not isinstance(v, (dict, list)))

    @admin.display(description="paramètres")
    def parametres_affiches(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.parametres))

    @admin.display(description="compteurs du run")
    def compteurs_affiches(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.compteurs))

    @admin.display(description="suggestions par statut (maintenant)")
    def compteurs_live(self, obj):
        counts = dict(obj.suggestions.values_list("statut").annotate(n=Count("id")).order_by())
        labels = dict(SuggestionStatut.choices)
        return ", ".join(f"{labels.get(k, k)} : {v}" for k, v in sorted(counts.items())) or "aucune"

    @admin.display(description="run Airflow")
    def lien_airflow(self, obj):
        if not obj.dag_id or not obj.dag_run_id:
            return "—"
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>',
                           airflow_run_url(obj.dag_id, obj.dag_run_id), obj.dag_run_id)

    @admin.display(description="suggestions")
    def lien_suggestions(self, obj):
        url = reverse("admin:suggestions_suggestion_changelist") + f"?cohorte__id__exact={obj.pk}"
        return format_html('<a href="{}">voir les suggestions</a>', url)


def _pretty(value) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


class _BandFilter(admin.SimpleListFilter):
    """A list filter over fixed bands: BANDS = {value in the URL: (label, lookups of the band)}."""
    BANDS: ClassVar[dict[str, tuple[str, dict]]] = {}

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _) in self.BANDS.items()]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value())
        return queryset if band is None else queryset.filter(**band[1])


class ScoreBandFilter(_BandFilter):
    title = "score"
    parameter_name = "score_band"
    BANDS = {"lt80": ("< 0,8", {"score__lt": 0.8}),
             "80-90": ("0,8 – 0,9", {"score__gte": 0.8, "score__lt": 0.9}),
             "ge90": ("≥ 0,9", {"score__gte": 0.9})}


def _nb_acteurs():
    """Actors shown side by side (contexte.membres): `taille` also counts the parent to create."""
    from django.db.models import Func, IntegerField
    from django.db.models.fields.json import KeyTransform

    return Func(KeyTransform("membres", "contexte"), function="jsonb_array_length", output_field=IntegerField())


class TailleFilter(_BandFilter):
    """Cluster size = number of actors in the cluster (not counting the parent to create)."""
    title = "taille du cluster (acteurs)"
    parameter_name = "taille_band"
    BANDS = {"2": ("2", {"_nb_acteurs": 2}), "3": ("3", {"_nb_acteurs": 3}),
             "4+": ("4 et plus", {"_nb_acteurs__gte": 4})}


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        from data_platform.webapp.acteurs.models import Source

        return list(Source.objects.values_list("code", "libelle"))

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(sources__contains=[self.value()])  # jsonb @> '["code"]'
        return queryset


class DepartementFilter(admin.SimpleListFilter):
    title = "département"
    parameter_name = "departement"

    def lookups(self, request, model_admin):
        values = (Suggestion.objects.order_by("departement").values_list("departement", flat=True).distinct())
        return [(d, d or "(vide)") for d in values]

    def queryset(self, request, queryset):
        if self.value() is not None:
            return queryset.filter(departement=self.value())
        return queryset


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "departement", "nb_acteurs", "score_affiche", "sources_affichees", "statut", "noms",
                    "cohorte")
    list_display_links = ("id", "noms")
    list_filter = ("statut", ("cohorte", admin.RelatedOnlyFieldListFilter), DepartementFilter, ScoreBandFilter,
                   TailleFilter, SourceFilter)
    search_fields = ("cluster_id",)
    search_help_text = "Nom ou identifiant d'un membre (ou identifiant de cluster)"
    list_select_related = ("cohorte",)
    list_per_page = 50
    actions = ("approuver", "rejeter")
    change_form_template = "admin/suggestions/suggestion/change_form.html"
    fields = ("cohorte", "cluster_id", "statut", "score", "departement", "taille", "sources", "membres", "erreur",
              "empreinte_membres", "empreinte_donnees", "cree_le", "modifie_le", "applique_le")
    readonly_fields = fields

    # -- permissions ---------------------------------------------------------------------------
    def has_decide_permission(self, request):
        return can_decide(request)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # -- list ----------------------------------------------------------------------------------
    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_nb_acteurs=_nb_acteurs())

    @admin.display(description="acteurs", ordering="_nb_acteurs")
    def nb_acteurs(self, obj):
        return obj._nb_acteurs

    def get_search_results(self, request, queryset, search_term):
        """Text search in the member ids (jsonb list) and in the context (names, ids), cluster id, pk."""
        term = search_term.strip()
        if not term:
            return queryset, False
        q = Q(membres__icontains=term) | Q(contexte__membres__icontains=term) | Q(cluster_id__icontains=term)
        if term.isdigit():
            q |= Q(pk=int(term))
        return queryset.filter(q), False

    @admin.display(description="score", ordering="score")
    def score_affiche(self, obj):
        return "—" if obj.score is None else f"{obj.score:.3f}".replace(".", ",")  # French decimals, as on the page

    @admin.display(description="sources")
    def sources_affichees(self, obj):
        return ", ".join(obj.sources or [])

    @admin.display(description="noms")
    def noms(self, obj):
        names = presentation.member_names(obj.contexte)
        return " | ".join(names[:4]) + (" …" if len(names) > 4 else "")

    # -- bulk decisions with a confirmation page --------------------------------------------------
    def _bulk(self, request, queryset, decision):
        if not can_decide(request):
            raise PermissionDenied
        ids = list(queryset.values_list("pk", flat=True))
        decidable = list(queryset.filter(statut=SuggestionStatut.A_REVOIR).values_list("pk", flat=True))
        verb = "approuvée(s)" if decision == decisions.APPROVE else "rejetée(s)"
        if request.POST.get("confirmation") == "oui":
            outcome = decisions.decide(ids, decision, request.user)
            self.message_user(request, f"{len(outcome.done)} suggestion(s) {verb}.", messages.SUCCESS)
            if outcome.refused:
                self.message_user(request, f"{len(outcome.refused)} suggestion(s) refusée(s) : elles n'étaient plus "
                                           f"à revoir ({', '.join(map(str, outcome.refused[:20]))}).",
                                  messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": "Confirmer la décision",
            "decision": decision, "verb": verb, "action_name": "approuver" if decision == decisions.APPROVE else "rejeter",
            "ids": ids, "n_selected": len(ids), "n_decidable": len(decidable),
            "n_refused": len(ids) - len(decidable), "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "sample": queryset.filter(statut=SuggestionStatut.A_REVOIR)[:20],
        }
        return TemplateResponse(request, "admin/suggestions/suggestion/confirm_bulk.html", context)

    @admin.action(description="Approuver les suggestions sélectionnées", permissions=["decide"])
    def approuver(self, request, queryset):
        return self._bulk(request, queryset, decisions.APPROVE)

    @admin.action(description="Rejeter les suggestions sélectionnées", permissions=["decide"])
    def rejeter(self, request, queryset):
        return self._bulk(request, queryset, decisions.REJECT)

    # -- one suggestion: page and decisions ------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/decider/", view(require_POST(self.decide_view)), name="suggestions_suggestion_decide"),
            path("<int:pk>/retirer-membre/", view(require_POST(self.remove_member_view)),
                 name="suggestions_suggestion_remove_member"),
            *super().get_urls(),
        ]

    def decide_view(self, request, pk):
        if not can_decide(request):
            raise PermissionDenied
        s = get_object_or_404(Suggestion, pk=pk)
        decision = request.POST.get("decision")
        if decision not in (decisions.APPROVE, decisions.REJECT):
            messages.error(request, "Décision inconnue.")
        else:
            outcome = decisions.decide([s.pk], decision, request.user, request.POST.get("commentaire", "")[:2000])
            if outcome.done:
                verb = "approuvée" if decision == decisions.APPROVE else "rejetée"
                messages.success(request, f"Suggestion {s.pk} {verb}.")
            else:
                s.refresh_from_db()
                messages.error(request, f"Décision refusée : la suggestion {s.pk} n'est plus à revoir "
                                        f"(statut : {s.get_statut_display()}).")
        return HttpResponseRedirect(reverse("admin:suggestions_suggestion_change", args=[s.pk]))

    def remove_member_view(self, request, pk):
        if not can_decide(request):
            raise PermissionDenied
        s = get_object_or_404(Suggestion, pk=pk)
        member = request.POST.get("membre", "")
        try:
            result = decisions.remove_member(s.pk, member, request.user)
        except decisions.RemoveRefused as exc:
            messages.error(request, f"Retrait refusé : {exc}.")
        else:
            messages.success(request, result["message"])
        return HttpResponseRedirect(reverse("admin:suggestions_suggestion_change", args=[s.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if obj is not None:
            extra.update({
                "cluster": presentation.cluster_table(obj.contexte),
                "paires": presentation.pairs_table(obj.contexte),
                "distances": presentation.distance_matrix(obj.contexte),
                "changes_list": presentation.ordered_changes(obj.changes),
                "decisions_list": list(obj.decisions.all()),
                "can_decide": can_decide(request),
                "is_to_review": obj.statut == SuggestionStatut.A_REVOIR,
                "suggestion": obj,
            })
        return super().change_view(request, object_id, form_url, extra_context=extra)


@admin.register(SuggestionDecision)
class SuggestionDecisionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("decide_le", "suggestion_link", "decision", "username", "statut_avant", "statut_apres",
                    "commentaire")
    list_filter = ("decision", "statut_apres")
    search_fields = ("username", "commentaire")
    fields = ("suggestion", "decision", "user", "username", "statut_avant", "statut_apres", "commentaire",
              "snapshot_affiche", "decide_le")
    readonly_fields = fields

    @admin.display(description="suggestion")
    def suggestion_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:suggestions_suggestion_change",
                                                          args=[obj.suggestion_id]), obj.suggestion_id)

    @admin.display(description="ce qui était affiché")
    def snapshot_affiche(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.snapshot))


admin.site.site_header = "Revue des fusions d'acteurs"
admin.site.site_title = "Revue des fusions"
admin.site.index_title = "Administration"


# ---------------------------------------------------------------- run report link (data_platform/webapp/reports)
# A separate block: the cohort list and change page link to the run's report, rendered by the admin.
from data_platform.webapp.reports.links import cohort_report_link

SuggestionCohorteAdmin.lien_rapport = admin.display(description="rapport du run")(cohort_report_link)
SuggestionCohorteAdmin.list_display = (*SuggestionCohorteAdmin.list_display, "lien_rapport")
SuggestionCohorteAdmin.fields = (*SuggestionCohorteAdmin.fields, "lien_rapport")
SuggestionCohorteAdmin.readonly_fields = SuggestionCohorteAdmin.fields
