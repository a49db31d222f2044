{{ config(
    materialized='table',
    post_hook=[
        "create unique index on {{ this }} (identifiant_unique)",
        "create index on {{ this }} (parent_id)",
        "analyze {{ this }}",
    ],
) }}
{#- Consolidated layer (SPEC §2.1, docs/CONTRACTS.md): the published copy of int_acteur_consolide, every acteur ⊕
    its revision plus the parents. A table of its own (not a view): rebuilding int_acteur_consolide drops its
    dependent views. -#}
select
    identifiant_unique,
    identifiant_externe,
    source,
    acteur_type,
    nom,
    nom_commercial,
    siren,
    siret,
    adresse,
    adresse_complement,
    code_postal,
    ville,
    latitude,
    longitude,
    telephone,
    email,
    url,
    statut,
    parent_id,
    est_parent,
    nombre_enfants,
    source_codes,
    cree_le,
    modifie_le,
    revision_modifie_le
from {{ ref('int_acteur_consolide') }}
