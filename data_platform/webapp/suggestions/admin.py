"""Review admin: cohorts, suggestions (side by side, decisions), the decision trail.

Everything is read-only through Django's forms. Decisions go through dedicated POST views and
admin actions that require the `suggestions.decide_suggestion` permission (group `reviewer`);
other staff can read, and get 403 if they post. Django's CSRF middleware protects every POST.

Reviewing fast (issue 10 item 3): "Approuver et suivant" / "Rejeter et suivant" go to the next suggestion
still to review in the list the reviewer came from (its `_changelist_filters`: filters, search, sort order),
found with one window query over the changelist's own queryset; keyboard shortcuts (a, r, j, k, u, ?) are in
the change form's template; the last decision can be undone while unapplied (`decisions.undo`).
"""
from __future__ import annotations

import copy
from typing import ClassVar
from urllib.parse import quote, urlencode

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.postgres.lookups import Unaccent
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, F, Q, Sum, TextField, Value, Window
from django.db.models.functions import Cast, Concat, Lag, Lead, RowNumber
from django.db.models.lookups import IContains
from django.http import HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from data_platform import settings as dp_settings
from data_platform.cluster.params import DEPARTEMENT_LABELS
from data_platform.suggestions import decisions
from data_platform.webapp.suggestions import presentation
from data_platform.webapp.suggestions.models import (
    MotifRejet,
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
    # fits 1,400 px: the run id (also the Airflow link's text), counts, one link; the counters are on the page
    list_display = ("run_id", "creee", "statut", "avancement", "nb_acteurs", "liens")
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

    @admin.display(description="créée le (heure de Paris)", ordering="cree_le")
    def creee(self, obj):
        return formats.date_format(timezone.localtime(obj.cree_le), "d/m/Y H:i") if obj.cree_le else "—"

    @admin.display(description="suggestions à revoir / appliquées / total", ordering="_to_review")
    def avancement(self, obj):
        return format_html('<span title="{} à revoir, {} appliquées, {} en tout">{} / {} / {}</span>',
                           obj._to_review, obj._applied, obj._n, obj._to_review, obj._applied, obj._n)

    @admin.display(description="liens")
    def liens(self, obj):
        return format_html("{} · {}", self.lien_suggestions(obj), self.lien_airflow(obj))

    @admin.display(description="acteurs")
    def nb_acteurs(self, obj):
        return (obj.compteurs or {}).get("acteurs", "—")

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
        return format_html('<a href="{}" target="_blank" rel="noopener" title="{}">Airflow ↗</a>',
                           airflow_run_url(obj.dag_id, obj.dag_run_id), obj.dag_run_id)

    @admin.display(description="suggestions")
    def lien_suggestions(self, obj):
        url = reverse("admin:suggestions_suggestion_changelist") + f"?cohorte__id__exact={obj.pk}"
        return format_html('<a href="{}">suggestions</a>', url)


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
    """THE actor count (Suggestion.nb_acteurs): the actors shown side by side; `taille` also counts the parent
    to create."""
    return Suggestion.nb_acteurs_sql()


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


class SelectFilter(admin.SimpleListFilter):
    """A list filter drawn as one drop-down (not one link per value)."""
    template = "admin/suggestions/filtre_select.html"


class DepartementFilter(SelectFilter):
    title = "département"
    parameter_name = "departement"

    def lookups(self, request, model_admin):
        values = (Suggestion.objects.order_by("departement").values_list("departement", flat=True).distinct())
        return [(d, DEPARTEMENT_LABELS.get(d, d) if d else "(vide)") for d in values]

    def queryset(self, request, queryset):
        if self.value() is not None:
            return queryset.filter(departement=self.value())
        return queryset


class CohorteFilter(admin.RelatedOnlyFieldListFilter):
    """The cohorts (one per run: many) as one drop-down."""
    template = "admin/suggestions/filtre_select.html"


class ChangeKindFilter(admin.SimpleListFilter):
    """The suggestion's kind (presentation.CHANGE_KINDS): a change record of that type, and none of a stronger
    kind (jsonb containment on `changes`)."""
    title = "type de changement"
    parameter_name = "type_changement"

    def lookups(self, request, model_admin):
        return [(code, text) for code, text, _ in presentation.CHANGE_KINDS]

    def queryset(self, request, queryset):
        kinds = [code for code, _, _ in presentation.CHANGE_KINDS]
        if self.value() not in kinds:
            return queryset
        i = kinds.index(self.value())
        queryset = queryset.filter(changes__contains=[{"type": presentation.CHANGE_KINDS[i][2]}])
        for _, _, stronger in presentation.CHANGE_KINDS[:i]:
            queryset = queryset.exclude(changes__contains=[{"type": stronger}])
        return queryset


def _searchable():
    """The text a search looks in, accents removed by PostgreSQL's unaccent: member ids, the context's
    members (names, addresses, ids, normalized values), the cluster id."""
    return Unaccent(Concat(Cast("membres", TextField()), Value(" "), Cast(F("contexte__membres"), TextField()),
                           Value(" "), F("cluster_id"), output_field=TextField()))


def _with_filters(url: str, filters: str) -> str:
    return f"{url}?{urlencode({'_changelist_filters': filters})}" if filters else url


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    # fits 1,400 px with the navigation sidebar: the cohort is a filter (and on the page), not a column
    list_display = ("noms", "dep", "nb_acteurs", "score_affiche", "type_changement", "sources_affichees",
                    "statut")
    list_display_links = ("noms",)
    list_filter = ("statut", ("cohorte", CohorteFilter), ChangeKindFilter, DepartementFilter,
                   ScoreBandFilter, TailleFilter, SourceFilter)
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
        """Accent- and case-insensitive search (PostgreSQL unaccent on both sides: « emmaus » finds « Emmaüs »)
        in the member ids, the context's members (names, addresses, ids) and the cluster id; every word must
        appear; a number also finds the suggestion of that id."""
        term = search_term.strip()
        if not term:
            return queryset, False
        words = term.split()
        text = Q(*[IContains(F("_recherche"), Unaccent(Value(w, output_field=TextField()))) for w in words])
        q = text | Q(pk=int(term)) if term.isdigit() and len(term) < 18 else text
        return queryset.alias(_recherche=_searchable()).filter(q), False

    @admin.display(description="score", ordering="score")
    def score_affiche(self, obj):
        return "—" if obj.score is None else f"{obj.score:.3f}".replace(".", ",")  # French decimals, as on the page

    @admin.display(description="dép.", ordering="departement")
    def dep(self, obj):
        return format_html('<span title="{}">{}</span>', DEPARTEMENT_LABELS.get(obj.departement, obj.departement),
                           obj.departement or "—")

    @admin.display(description="changement")
    def type_changement(self, obj):
        code, text = presentation.change_kind(obj.changes)
        return format_html('<span title="{}">{}</span>', text, presentation.CHANGE_KIND_SHORT.get(code, text))

    @admin.display(description="sources")
    def sources_affichees(self, obj):
        return ", ".join(obj.sources or [])

    @admin.display(description="n° — noms", ordering="id")
    def noms(self, obj):
        names = presentation.member_names(obj.contexte)
        return f"n° {obj.pk} — " + " | ".join(names[:4]) + (" …" if len(names) > 4 else "")

    # -- bulk decisions with a confirmation page --------------------------------------------------
    def _bulk(self, request, queryset, decision):
        if not can_decide(request):
            raise PermissionDenied
        ids = list(queryset.values_list("pk", flat=True))
        decidable = list(queryset.filter(statut=SuggestionStatut.A_REVOIR).values_list("pk", flat=True))
        verb = "approuvée(s)" if decision == decisions.APPROVE else "rejetée(s)"
        motif = request.POST.get("motif") or None if decision == decisions.REJECT else None
        if motif is not None and motif not in MotifRejet.values:
            motif = None
        if request.POST.get("confirmation") == "oui":
            outcome = decisions.decide(ids, decision, request.user, request.POST.get("commentaire", "")[:2000],
                                       motif=motif)
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
            "n_acteurs": queryset.filter(statut=SuggestionStatut.A_REVOIR).aggregate(n=Sum(_nb_acteurs()))["n"] or 0,
            "motifs": MotifRejet.choices if decision == decisions.REJECT else [],
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
            path("annuler/", view(require_POST(self.undo_view)), name="suggestions_suggestion_undo"),
            *super().get_urls(),
        ]

    def _change_url(self, pk, filters: str = "") -> str:
        return _with_filters(reverse("admin:suggestions_suggestion_change", args=[pk]), filters)

    def _changelist_url(self, filters: str = "") -> str:
        url = reverse("admin:suggestions_suggestion_changelist")
        return f"{url}?{filters}" if filters else url

    def neighbours(self, request, pk: int, filters: str, to_review_only: bool = False) -> dict:
        """Where suggestion `pk` stands in the list the reviewer came from (`filters` = its query string):
        {"prev", "next", "position", "total"}, in the list's own order, from one window query over the
        changelist's queryset (filters, search, sort: the same code as the list). `to_review_only`: among the
        suggestions still to review (plus `pk`), for "… et suivant". {} when `pk` is not in that list."""
        fake = copy.copy(request)
        fake.GET = QueryDict(filters or "")
        try:
            cl = self.get_changelist_instance(fake)
        except (IncorrectLookupParameters, PermissionDenied, ValueError):
            fake.GET = QueryDict("")
            cl = self.get_changelist_instance(fake)
        qs = cl.queryset
        if to_review_only:
            qs = qs.filter(Q(statut=SuggestionStatut.A_REVOIR) | Q(pk=pk))
        order = [o if not isinstance(o, str) else F(o[1:]).desc() if o.startswith("-") else F(o).asc()
                 for o in qs.query.order_by] or [F("pk").asc()]
        inner = qs.annotate(_ident=F("pk"), _prev=Window(Lag("pk"), order_by=order),
                            _next=Window(Lead("pk"), order_by=order), _pos=Window(RowNumber(), order_by=order),
                            _total=Window(Count("pk"))).values("_ident", "_prev", "_next", "_pos", "_total")
        sql, params = inner.query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute(f"select t._prev, t._next, t._pos, t._total from ({sql}) t where t._ident = %s", [*params, pk])
            row = cur.fetchone()
        if row is None:
            return {}
        return dict(zip(("prev", "next", "position", "total"), row))

    def _next_to_review(self, request, pk: int, filters: str):
        """The suggestion after `pk` still to review in the reviewer's list (else the first one to review in that
        list), computed before deciding on `pk` so that a list filtered on "à revoir" keeps its place."""
        nav = self.neighbours(request, pk, filters, to_review_only=True)
        if nav:
            return nav.get("next")  # None at the end of the list
        fake = copy.copy(request)
        fake.GET = QueryDict(filters or "")
        try:  # `pk` is not in that list (opened from elsewhere): the list's first suggestion to review
            qs = self.get_changelist_instance(fake).queryset
        except (IncorrectLookupParameters, PermissionDenied, ValueError):
            return None
        return qs.filter(statut=SuggestionStatut.A_REVOIR).exclude(pk=pk).values_list("pk", flat=True).first()

    def decide_view(self, request, pk):
        if not can_decide(request):
            raise PermissionDenied
        s = get_object_or_404(Suggestion, pk=pk)
        decision = request.POST.get("decision")
        filters = request.POST.get("_changelist_filters", "")
        and_next = request.POST.get("suivant") == "1"
        motif = (request.POST.get("motif") or None) if decision == decisions.REJECT else None
        if decision not in (decisions.APPROVE, decisions.REJECT):
            messages.error(request, "Décision inconnue.")
            return HttpResponseRedirect(self._change_url(s.pk, filters))
        if motif is not None and motif not in MotifRejet.values:
            messages.error(request, f"Motif de rejet inconnu : « {motif} ». Rien n'a changé.")
            return HttpResponseRedirect(self._change_url(s.pk, filters))
        following = self._next_to_review(request, s.pk, filters) if and_next else None
        outcome = decisions.decide([s.pk], decision, request.user, request.POST.get("commentaire", "")[:2000],
                                   motif=motif)
        if not outcome.done:
            s.refresh_from_db()
            messages.error(request, f"Décision refusée : la suggestion {s.pk} n'est plus à revoir "
                                    f"(statut : {s.get_statut_display()}).")
            return HttpResponseRedirect(self._change_url(s.pk, filters))
        verb = "approuvée" if decision == decisions.APPROVE else "rejetée"
        if motif:
            verb += f" ({MotifRejet(motif).label.lower()})"
        messages.success(request, f"Suggestion {s.pk} {verb}. Touche u : annuler.")
        if not and_next:
            return HttpResponseRedirect(self._change_url(s.pk, filters))
        if following is None:
            messages.info(request, "Plus de suggestion à revoir dans cette liste.")
            return HttpResponseRedirect(self._changelist_url(filters))
        return HttpResponseRedirect(self._change_url(following, filters))

    def undo_view(self, request):
        """Undo the last decision on `suggestion` (POST field), else the reviewer's last decision anywhere."""
        if not can_decide(request):
            raise PermissionDenied
        filters = request.POST.get("_changelist_filters", "")
        raw = request.POST.get("suggestion", "")
        target = int(raw) if raw.isdigit() else None
        try:
            undone = decisions.undo(request.user, target)
        except decisions.UndoRefused as exc:
            messages.error(request, f"Annulation refusée : {exc}.")
            back = exc.suggestion_id or target
            return HttpResponseRedirect(self._change_url(back, filters) if back else self._changelist_url(filters))
        messages.success(request, undone.message)
        return HttpResponseRedirect(self._change_url(undone.suggestion_id, filters))

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
        return HttpResponseRedirect(self._change_url(s.pk, request.POST.get("_changelist_filters", "")))

    def _undoable(self, request, obj) -> dict | None:
        """The decision the page's undo button (key u) takes back: this suggestion's last one when it can be
        undone, else the reviewer's own last decision (the one just made before landing here)."""
        live = SuggestionDecision.objects.exclude(decision=decisions.UNDO).filter(annulee_le__isnull=True)
        own = live.filter(suggestion=obj).order_by("-decide_le", "-id").first()
        if own is not None and own.decision in decisions.TARGET and own.statut_apres == obj.statut:
            return {"suggestion": obj.pk, "decision": own, "ici": True}
        mine = live.filter(user=request.user).order_by("-decide_le", "-id").select_related("suggestion").first()
        if mine is not None and mine.decision in decisions.TARGET and mine.statut_apres == mine.suggestion.statut:
            return {"suggestion": mine.suggestion_id, "decision": mine, "ici": mine.suggestion_id == obj.pk}
        return None

    def _pair_details(self, obj) -> dict:
        """cluster_pair.details of the suggestion's pairs (per-field weights, match weight), one indexed query;
        {} when the run's pairs are gone."""
        from data_platform.webapp.pipeline.models import ClusterPair

        rows = ClusterPair.objects.filter(run_id=obj.cohorte.run_id, cluster_id=obj.cluster_id).values_list(
            "id_a", "id_b", "details")
        return {(a, b): d for a, b, d in rows if isinstance(d, dict)}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if obj is not None:
            filters = request.GET.get("_changelist_filters", "")
            nav = self.neighbours(request, obj.pk, filters)
            paires = presentation.pairs_table(obj.contexte, self._pair_details(obj))
            carte = presentation.members_map(obj.contexte)
            extra.update({
                "cluster": presentation.cluster_table(obj.contexte, obj.changes),
                "paires": paires,
                "paires_entete": presentation.explanation_header(paires),
                "distances": presentation.distance_matrix(obj.contexte),
                "carte": carte, "carte_svg": mark_safe(carte["svg"]),  # built with every text escaped
                "changes_list": presentation.ordered_changes(obj.changes),
                "type_changement": presentation.change_kind(obj.changes)[1],
                "parents_supprimes": presentation.deleted_parents(obj.contexte, obj.changes),
                "decisions_list": list(obj.decisions.all()),
                "can_decide": can_decide(request),
                "is_to_review": obj.statut == SuggestionStatut.A_REVOIR,
                "suggestion": obj,
                "motifs": MotifRejet.choices,
                "filtres": filters,
                "nav": nav,
                "prev_url": self._change_url(nav["prev"], filters) if nav.get("prev") else "",
                "next_url": self._change_url(nav["next"], filters) if nav.get("next") else "",
                "liste_url": self._changelist_url(filters),
                "annulable": self._undoable(request, obj) if can_decide(request) else None,
            })
        return super().change_view(request, object_id, form_url, extra_context=extra)


@admin.register(SuggestionDecision)
class SuggestionDecisionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("decide_le", "suggestion_link", "decision", "username", "transition_affichee", "motif",
                    "commentaire", "annulee_le")
    list_filter = ("decision", "statut_apres", "motif")
    search_fields = ("username", "commentaire")
    fields = ("suggestion", "decision", "user", "username", "statut_avant", "statut_apres", "motif", "commentaire",
              "annulee_le", "snapshot_affiche", "decide_le")
    readonly_fields = fields

    @admin.display(description="suggestion")
    def suggestion_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:suggestions_suggestion_change",
                                                          args=[obj.suggestion_id]), obj.suggestion_id)

    @admin.display(description="statut avant → après")
    def transition_affichee(self, obj):
        return obj.transition

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
