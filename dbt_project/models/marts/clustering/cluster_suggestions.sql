{{ config(materialized='view', tags=['per_run']) }}
{#- Step 7 (SPEC §3.1): one row per cluster of dbt.cluster_changes, keyed by (run_id, cluster_id), with
    everything a suggestion carries except its data fingerprint and status (data_platform/suggestions/write.py
    adds those, decides what is proposed again, and copies the rows with one insert … select).
    A view: nothing is materialized, the writer's `where run_id = …` reaches every grouped relation.
    - membres: sorted ids (collate "C") of every actor of the changes, the parent to create included;
      taille = their number; empreinte_membres = sha256 of those ids joined by "\n" (hex), as
      data_platform.suggestions.fingerprint.members_key;
    - changes: the change records of docs/CONTRACTS.md, ordered by (order, identifiant_unique collate "C");
    - score: the weakest finite pair score of the cluster (NULL without pair);
    - departement: the most frequent one of the cluster in cluster_membership (ties by code), else the
      smallest non-empty one of its selected members, else '';
    - sources: sorted distinct non-empty sources of the actors known (selected, else consolidated);
    - contexte: membres (selected actors: raw + norm from cluster_selection; the other actors of the changes,
      children following their parent: raw from int_acteur_consolide, norm {}), paires (by id_a, id_b), parent
      (id, action, data, origine). Non-finite floats become null (jsonb refuses NaN). Its parts are built as
      json text and cast to jsonb once: each level of jsonb_build_object / jsonb_agg walks and rebuilds every
      token of the jsonb values it is given (the view took 15.6 s for 124,474 clusters at 500,000 actors). -#}
with changes as (
    select
        run_id,
        cluster_id::text as cluster_id,
        identifiant_unique,
        change_type,
        change_order,
        parent_id,
        data,
        origine
    from {{ ref('cluster_changes') }}
),

clusters as (
    select
        run_id,
        cluster_id,
        jsonb_agg(
            case
                when change_type in ('acteur_create_as_parent', 'acteur_keep_as_parent') then jsonb_build_object(
                    'order', change_order, 'type', change_type, 'identifiant_unique', identifiant_unique,
                    'data', coalesce(data, '{}'::jsonb))
                when change_type in ('acteur_update_parent_id', 'acteur_verify_in_revision') then jsonb_build_object(
                    'order', change_order, 'type', change_type, 'identifiant_unique', identifiant_unique,
                    'parent_id', parent_id)
                else jsonb_build_object(
                    'order', change_order, 'type', change_type, 'identifiant_unique', identifiant_unique)
            end
            order by change_order, identifiant_unique collate "C") as changes,
        jsonb_agg(identifiant_unique order by identifiant_unique collate "C") as membres,
        count(*)::int as taille,
        encode(sha256(convert_to(
            string_agg(identifiant_unique, E'\n' order by identifiant_unique collate "C"), 'UTF8')), 'hex')
            as empreinte_membres
    from changes
    group by run_id, cluster_id
),

parents as (
    select distinct on (run_id, cluster_id)
        run_id,
        cluster_id,
        json_build_object(
            'identifiant_unique', identifiant_unique,
            'action', case when change_type = 'acteur_create_as_parent' then 'create' else 'keep' end,
            'data', coalesce(data, '{}'::jsonb),
            'origine', coalesce(origine, '{}'::jsonb)) as parent
    from changes
    where change_type in ('acteur_create_as_parent', 'acteur_keep_as_parent')
    order by run_id, cluster_id, identifiant_unique collate "C"
),

known as (
    -- the actors of the changes that exist: selected ones (raw + norm), else consolidated (raw only)
    select
        c.run_id,
        c.cluster_id,
        c.identifiant_unique,
        coalesce(s.source, v.source, '') as source,
        coalesce(s.departement, '') as departement,
        json_build_object(
            'identifiant_unique', c.identifiant_unique,
            'source', coalesce(s.source, v.source, ''),
            'est_parent', coalesce(s.est_parent, v.est_parent, false),
            'raw', case when s.identifiant_unique is not null then json_build_object(
                    'acteur_type', s.acteur_type, 'nom', s.nom, 'nom_commercial', s.nom_commercial,
                    'adresse', s.adresse, 'code_postal', s.code_postal, 'ville', s.ville, 'siret', s.siret,
                    'telephone', s.telephone,
                    'latitude', {{ finite('s.latitude') }}, 'longitude', {{ finite('s.longitude') }})
                else json_build_object(
                    'acteur_type', v.acteur_type, 'nom', v.nom, 'nom_commercial', v.nom_commercial,
                    'adresse', v.adresse, 'code_postal', v.code_postal, 'ville', v.ville, 'siret', v.siret,
                    'telephone', v.telephone,
                    'latitude', {{ finite('v.latitude') }}, 'longitude', {{ finite('v.longitude') }})
                end,
            'norm', case when s.identifiant_unique is not null then json_build_object(
                    'nom_norm', s.nom_norm, 'nom_commercial_norm', s.nom_commercial_norm,
                    'adresse_norm', s.adresse_norm, 'ville_norm', s.ville_norm,
                    'code_postal_norm', s.code_postal_norm, 'siret_norm', s.siret_norm,
                    'siren_norm', s.siren_norm, 'telephone_norm', s.telephone_norm,
                    'departement', s.departement)
                else '{}'::json end
        ) as membre
    from changes as c
    left join {{ ref('cluster_selection') }} as s on s.identifiant_unique = c.identifiant_unique
    left join {{ ref('int_acteur_consolide') }} as v
        on v.identifiant_unique = c.identifiant_unique and s.identifiant_unique is null
    where s.identifiant_unique is not null or v.identifiant_unique is not null
),

membres as (
    select
        run_id,
        cluster_id,
        json_agg(membre order by identifiant_unique collate "C") as membres,
        coalesce(to_jsonb(array_agg(distinct source::text collate "C" order by source::text collate "C")
            filter (where source <> '')), '[]'::jsonb) as sources,
        min(departement collate "C") filter (where departement <> '') as departement
    from known
    group by run_id, cluster_id
),

pairs as (
    select
        run_id,
        cluster_id::text as cluster_id,
        min({{ finite('score') }}) as score,
        json_agg(json_build_object(
            'id_a', id_a, 'id_b', id_b, 'score', {{ finite('score') }},
            'fields', case when jsonb_typeof(details -> 'fields') = 'object' then details -> 'fields' else '{}'::jsonb end,
            'matched', case when jsonb_typeof(details -> 'matched') = 'array' then details -> 'matched' else '[]'::jsonb end,
            'distance_m', case when jsonb_typeof(details -> 'distance_m') = 'number' then details -> 'distance_m' end)
            order by id_a collate "C", id_b collate "C") as paires
    from {{ ref('stg_cluster_pair') }}
    group by run_id, cluster_id
),

departements as (
    -- every run's membership (stg_cluster_membership, not the per-run int_run_membership): the view takes no
    -- run id of its own, the writer's `where run_id = …` selects the run
    select distinct on (run_id, cluster_id)
        run_id,
        cluster_id,
        coalesce(departement, '') as departement
    from {{ ref('stg_cluster_membership') }}
    group by run_id, cluster_id, coalesce(departement, '')
    order by run_id, cluster_id, count(*) desc, coalesce(departement, '') collate "C"
)

select
    c.run_id,
    c.cluster_id,
    p.score,
    coalesce(d.departement, m.departement, '') as departement,
    c.taille,
    coalesce(m.sources, '[]'::jsonb) as sources,
    c.membres,
    c.empreinte_membres,
    c.changes,
    json_build_object(
        'membres', coalesce(m.membres, '[]'::json),
        'paires', coalesce(p.paires, '[]'::json),
        'parent', pa.parent)::jsonb as contexte
from clusters as c
left join parents as pa on pa.run_id = c.run_id and pa.cluster_id = c.cluster_id
left join membres as m on m.run_id = c.run_id and m.cluster_id = c.cluster_id
left join pairs as p on p.run_id = c.run_id and p.cluster_id = c.cluster_id
left join departements as d on d.run_id = c.run_id and d.cluster_id = c.cluster_id
