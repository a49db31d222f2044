{#- Imported layer, lightly cleaned: text never NULL, empty-looking strings ("null", "n/a", "-") → '',
    statut upper-cased, coordinates outside their range → NULL (never swapped). -#}
select
    identifiant_unique::text as identifiant_unique,
    {{ clean_text('identifiant_externe') }} as identifiant_externe,
    source::text as source,
    acteur_type::text as acteur_type,
    {{ cleaned_acteur_fields() }}
    upper(btrim(statut))::text as statut,
    cree_le,
    modifie_le
from {{ source('app', 'acteur') }}
