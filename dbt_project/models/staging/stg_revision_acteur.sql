{#- Revision layer, lightly cleaned. '' (and NULL coordinates) mean "not overridden"; source/acteur_type
    NULL → ''; parent_id NULL when there is no parent. -#}
select
    identifiant_unique::text as identifiant_unique,
    {{ clean_text('identifiant_externe') }} as identifiant_externe,
    coalesce(source::text, '') as source,
    coalesce(acteur_type::text, '') as acteur_type,
    {{ cleaned_acteur_fields() }}
    upper(btrim(coalesce(statut, '')))::text as statut,
    nullif(btrim(parent_id), '')::text as parent_id,
    cree_le,
    modifie_le
from {{ source('app', 'revision_acteur') }}
