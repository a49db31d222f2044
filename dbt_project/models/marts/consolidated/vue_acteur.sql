{{ config(
    materialized='table',
    post_hook=[
        "create unique index on {{ this }} (identifiant_unique)",
        "create index on {{ this }} (parent_id)",
        "analyze {{ this }}",
    ],
) }}
{#- Consolidated layer (SPEC §2.1): every acteur ⊕ its revision (a non-empty revision value wins, NULL
    revision coordinates do not override), plus the parents: revision rows without an acteur row.
    Identity fields (identifiant_unique, identifiant_externe, source, cree_le, modifie_le) come from acteur;
    a parent whose statut is '' is ACTIF. est_parent = the row is a parent (revision without acteur);
    nombre_enfants = revision rows pointing to it; source_codes = own source and children's sources. -#}
with acteur as (
    select * from {{ ref('stg_acteur') }}
),

revision as (
    select * from {{ ref('stg_revision_acteur') }}
),

imported as (
    select
        a.identifiant_unique,
        a.identifiant_externe,
        a.source,
        coalesce(nullif(r.acteur_type, ''), a.acteur_type) as acteur_type,
        coalesce(nullif(r.nom, ''), a.nom) as nom,
        coalesce(nullif(r.nom_commercial, ''), a.nom_commercial) as nom_commercial,
        coalesce(nullif(r.siren, ''), a.siren) as siren,
        coalesce(nullif(r.siret, ''), a.siret) as siret,
        coalesce(nullif(r.adresse, ''), a.adresse) as adresse,
        coalesce(nullif(r.adresse_complement, ''), a.adresse_complement) as adresse_complement,
        coalesce(nullif(r.code_postal, ''), a.code_postal) as code_postal,
        coalesce(nullif(r.ville, ''), a.ville) as ville,
        coalesce(r.latitude, a.latitude) as latitude,
        coalesce(r.longitude, a.longitude) as longitude,
        coalesce(nullif(r.telephone, ''), a.telephone) as telephone,
        coalesce(nullif(r.email, ''), a.email) as email,
        coalesce(nullif(r.url, ''), a.url) as url,
        coalesce(nullif(r.statut, ''), a.statut) as statut,
        r.parent_id,
        false as est_parent,
        a.cree_le,
        a.modifie_le,
        r.modifie_le as revision_modifie_le
    from acteur as a
    left join revision as r on r.identifiant_unique = a.identifiant_unique
),

parents as (
    select
        r.identifiant_unique,
        r.identifiant_externe,
        r.source,
        r.acteur_type,
        r.nom,
        r.nom_commercial,
        r.siren,
        r.siret,
        r.adresse,
        r.adresse_complement,
        r.code_postal,
        r.ville,
        r.latitude,
        r.longitude,
        r.telephone,
        r.email,
        r.url,
        coalesce(nullif(r.statut, ''), 'ACTIF') as statut,
        r.parent_id,
        true as est_parent,
        r.cree_le,
        r.modifie_le,
        r.modifie_le as revision_modifie_le
    from revision as r
    where not exists (select 1 from acteur as a where a.identifiant_unique = r.identifiant_unique)
),

consolidated as (
    select * from imported
    union all
    select * from parents
),

children as (
    select
        parent_id,
        count(*)::int as nombre_enfants,
        array_agg(distinct source) filter (where source <> '') as sources
    from consolidated
    where parent_id is not null
    group by parent_id
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
    array(
        select distinct s collate "C"
        from unnest(coalesce(ch.sources, '{}'::text[]) || c.source) as s
        where s <> ''
        order by 1
    ) as source_codes,
    c.cree_le,
    c.modifie_le,
    c.revision_modifie_le
from consolidated as c
left join children as ch on ch.parent_id = c.identifiant_unique
