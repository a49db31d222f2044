{#- Revision layer, lightly cleaned. '' (and NULL coordinates) mean "not overridden"; source/acteur_type
    NULL → ''; parent_id NULL when there is no parent. -#}
select
    identifiant_unique::text as identifiant_unique,
    {{ clean_text('identifiant_externe') }} as identifiant_externe,
    coalesce(source::text, '') as source,
    coalesce(acteur_type::text, '') as acteur_type,
    {{ clean_text('nom') }} as nom,
    {{ clean_text('nom_commercial') }} as nom_commercial,
    {{ clean_text('siren') }} as siren,
    {{ clean_text('siret') }} as siret,
    {{ clean_text('adresse') }} as adresse,
    {{ clean_text('adresse_complement') }} as adresse_complement,
    {{ clean_text('code_postal') }} as code_postal,
    {{ clean_text('ville') }} as ville,
    case when latitude between -90 and 90 then latitude::double precision end as latitude,
    case when longitude between -180 and 180 then longitude::double precision end as longitude,
    {{ clean_text('telephone') }} as telephone,
    {{ clean_text('email') }} as email,
    {{ clean_text('url') }} as url,
    upper(btrim(coalesce(statut, '')))::text as statut,
    nullif(btrim(parent_id), '')::text as parent_id,
    cree_le,
    modifie_le
from {{ source('app', 'revision_acteur') }}
