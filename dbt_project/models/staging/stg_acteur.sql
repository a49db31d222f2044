{#- Imported layer, lightly cleaned: text never NULL, empty-looking strings ("null", "n/a", "-") → '',
    statut upper-cased, coordinates outside their range → NULL (never swapped). -#}
select
    identifiant_unique::text as identifiant_unique,
    {{ clean_text('identifiant_externe') }} as identifiant_externe,
    source::text as source,
    acteur_type::text as acteur_type,
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
    upper(btrim(statut))::text as statut,
    cree_le,
    modifie_le
from {{ source('app', 'acteur') }}
