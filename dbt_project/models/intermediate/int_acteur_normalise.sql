{{ config(
    materialized='table',
    pre_hook=["set local work_mem = '512MB'"],
    post_hook=["create unique index on {{ this }} (identifiant_unique)", "analyze {{ this }}"],
) }}
{#- One row per actor of int_acteur_consolide with its normalized fields (SPEC §3.1 step 2).

    nom_norm, nom_commercial_norm: normalize_text, then word by word: abbreviations expanded (seed, scope
    'all'), legal forms and stop words dropped (seeds; a word is dropped when it or its expansion is one),
    the remaining words joined by single spaces in their order.
    adresse_norm: normalize_text, abbreviations expanded (scopes 'all' and 'adresse'); numbers and stop words kept.
    The word-level work is set-based: every word of every distinct text in one tall relation, one hash join to
    int_word_dictionary (built from the seeds), then string_agg ordered by position (no per-actor loop or lookup).
    ville_norm: macro normalize_ville (CEDEX and arrondissement suffix dropped, st → saint), computed once per
    distinct raw city name.
    code_postal_norm: digits, CEDEX dropped, lost leading zero restored, 5 digits or ''.
    departement: exceptions seed (postal code + commune, leading article ignored) first, then the prefix rule
    (departement_from_postal_code) when it gives a département of the seed, else 'inconnu'.
    siret_norm 14 digits or ''; siren_norm 9 digits from siren, else the siret's first 9, or '';
    telephone_norm 10 digits starting with 0 or '' (+33/0033/33 prefixes → 0).
    Measured: 7.9 s for 500,000 generated actors on an idle 2-core machine (2026-12-03; 26–34 s for 505,000
    before, on 2 cores shared with other jobs: dbt_project/README.md); 11.6 -> 8.8 s on another machine when the
    text regexes went from once per actor to once per distinct raw text (2026-12-04, the same rows). -#}
with vue as (
    select * from {{ ref('int_acteur_consolide') }}
),

villes as (
    select ville, {{ normalize_ville('ville') }} as ville_norm
    from (select distinct ville from vue) as d
),

-- The per-row regexes (digits, postal code), once per row (materialized: inlined, each reference to a
-- column re-evaluates its regex); the cheap CASE logic comes in the final select.
base as materialized (
    select
        v.*,
        {{ postal_code_digits('v.code_postal') }} as code_postal_digits,
        {{ only_digits('v.siret') }} as siret_digits,
        {{ only_digits('v.siren') }} as siren_digits,
        {{ only_digits('v.telephone') }} as telephone_digits
    from vue as v
),

-- 1 = nom, 2 = nom_commercial, 3 = adresse. The text work runs once per distinct (field, raw text): chains'
-- names and a place's address repeat across sources (500,000 generated actors: 229,536 distinct raw texts
-- for 1,124,741 non-empty fields; regexes per actor took 4.6 of the model's 9.4 s there), and hash joins
-- bring the result back to each actor. (Joining the raw texts to a list of distinct normalized texts
-- instead makes the planner, which estimates 2 rows for each DISTINCT here, pick a nested loop.)
raw_texts as (
    select distinct f.field, f.raw
    from vue as v
    cross join lateral (values (1, v.nom), (2, v.nom_commercial), (3, v.adresse)) as f (field, raw)
    where coalesce(f.raw, '') <> ''
),

words as (
    select
        t.field,
        t.raw,
        w.pos,
        case when t.field = 3 then coalesce(d.expansion_adresse, w.word)
             else coalesce(d.expansion_nom, w.word) end as word
    from raw_texts as t
    cross join lateral string_to_table({{ normalize_text('t.raw') }}, ' ') with ordinality as w (word, pos)
    left join {{ ref('int_word_dictionary') }} as d on d.word = w.word
    where w.word <> '' and (t.field = 3 or d.drop_in_nom is not true)
),

agg as (
    select field, raw, string_agg(word, ' ' order by pos) as norm
    from words
    group by field, raw
),

exceptions as (
    select distinct on (code_postal, commune_key)
        code_postal, commune_key, departement_reel
    from (
        select
            {{ normalize_code_postal('code_postal') }} as code_postal,
            regexp_replace({{ normalize_ville('nom_commune') }}, '^(la|le|les|l) ', '') as commune_key,
            departement_reel
        from {{ ref('postal_code_departement_exceptions') }}
    ) as e
    order by code_postal, commune_key, departement_reel
),

normalized as (
    select
        b.*,
        vi.ville_norm,
        {{ code_postal_from_digits('b.code_postal_digits') }} as code_postal_norm,
        {{ digits_exact('b.siret_digits', 14) }} as siret_norm,
        {{ digits_exact('b.siren_digits', 9) }} as siren_from_siren,
        {{ telephone_from_digits('b.telephone_digits') }} as telephone_norm
    from base as b
    left join villes as vi on vi.ville = b.ville
)

select
    n.identifiant_unique,
    n.identifiant_externe,
    n.source,
    n.acteur_type,
    n.statut,
    n.parent_id,
    n.est_parent,
    n.nombre_enfants,
    n.source_codes,
    n.nom,
    n.nom_commercial,
    n.siren,
    n.siret,
    n.adresse,
    n.adresse_complement,
    n.code_postal,
    n.ville,
    n.latitude,
    n.longitude,
    n.telephone,
    n.email,
    n.url,
    coalesce(a_nom.norm, '') as nom_norm,
    coalesce(a_nc.norm, '') as nom_commercial_norm,
    coalesce(a_adr.norm, '') as adresse_norm,
    coalesce(n.ville_norm, '') as ville_norm,
    n.code_postal_norm,
    n.siret_norm,
    case
        when n.siren_from_siren <> '' then n.siren_from_siren
        when n.siret_norm <> '' then left(n.siret_norm, 9)
        else ''
    end as siren_norm,
    n.telephone_norm,
    coalesce(ex.departement_reel, d.code, 'inconnu') as departement
from normalized as n
left join agg as a_nom on a_nom.field = 1 and a_nom.raw = n.nom
left join agg as a_nc on a_nc.field = 2 and a_nc.raw = n.nom_commercial
left join agg as a_adr on a_adr.field = 3 and a_adr.raw = n.adresse
left join exceptions as ex
    on ex.code_postal = n.code_postal_norm
   and ex.commune_key = regexp_replace(n.ville_norm, '^(la|le|les|l) ', '')
left join {{ ref('departements') }} as d
    on d.code = {{ departement_from_postal_code('n.code_postal_norm') }}
