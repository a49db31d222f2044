{{ config(
    materialized='table',
    pre_hook=["set local work_mem = '256MB'"],
    post_hook=[
        "create unique index on {{ this }} (identifiant_unique)",
        "create index on {{ this }} (parent_id)",
        "analyze {{ this }}",
    ],
) }}
{#- Consolidation (SPEC §2.1), from staging only: every acteur ⊕ its revision (a non-empty revision value wins, NULL
    revision coordinates do not override), plus the parents: revision rows without an acteur row.
    Identity fields (identifiant_unique, identifiant_externe, source, cree_le, modifie_le) come from acteur;
    a parent whose statut is '' is ACTIF. est_parent = the row is a parent (revision without acteur);
    nombre_enfants = revision rows pointing to it; source_codes = own source and children's sources.
    The marts vue_acteur and displayed_acteur, and int_acteur_normalise, select from this model. -#}
with consolidated as (
    -- one pass: a full join gives the imported actors (with or without revision) and the parents
    -- (revision rows without acteur) at once
    select
        coalesce(a.identifiant_unique, r.identifiant_unique) as identifiant_unique,
        coalesce(a.identifiant_externe, r.identifiant_externe) as identifiant_externe,
        coalesce(a.source, r.source) as source,
        {%- for field in ['acteur_type', 'nom', 'nom_commercial', 'siren', 'siret', 'adresse', 'adresse_complement',
                          'code_postal', 'ville', 'telephone', 'email', 'url'] %}
        coalesce(nullif(r.{{ field }}, ''), a.{{ field }}, '') as {{ field }},
        {%- endfor %}
        coalesce(r.latitude, a.latitude) as latitude,
        coalesce(r.longitude, a.longitude) as longitude,
        coalesce(nullif(r.statut, ''), a.statut, 'ACTIF') as statut,
        r.parent_id,
        a.identifiant_unique is null as est_parent,
        coalesce(a.cree_le, r.cree_le) as cree_le,
        coalesce(a.modifie_le, r.modifie_le) as modifie_le,
        r.modifie_le as revision_modifie_le
    from {{ ref('stg_acteur') }} as a
    full join {{ ref('stg_revision_acteur') }} as r on r.identifiant_unique = a.identifiant_unique
),

children as (
    -- children are revision rows with a parent; their source is the acteur's (or the revision's)
    select
        r.parent_id,
        count(*)::int as nombre_enfants,
        array_agg(distinct coalesce(a.source, r.source) collate "C")
            filter (where coalesce(a.source, r.source) <> '') as sources
    from {{ ref('stg_revision_acteur') }} as r
    left join {{ ref('stg_acteur') }} as a on a.identifiant_unique = r.identifiant_unique
    where r.parent_id is not null
    group by r.parent_id
)

select
    c.identifiant_unique,
    c.identifiant_externe,
    c.source,
    c.acteur_type,
    c.nom,
    c.nom_commercial,
    c.siren,
    c.siret,
    c.adresse,
    c.adresse_complement,
    c.code_postal,
    c.ville,
    c.latitude,
    c.longitude,
    c.telephone,
    c.email,
    c.url,
    c.statut,
    c.parent_id,
    c.est_parent,
    coalesce(ch.nombre_enfants, 0) as nombre_enfants,
    case
        when ch.sources is null then case when c.source <> '' then array[c.source] else '{}'::text[] end
        else array(
            select distinct s collate "C"
            from unnest(ch.sources || c.source) as s
            where s <> ''
            order by 1
        )
    end as source_codes,
    c.cree_le,
    c.modifie_le,
    c.revision_modifie_le
from consolidated as c
left join children as ch on ch.parent_id = c.identifiant_unique
