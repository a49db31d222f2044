{{ config(tags=['per_run', 'run_guard']) }}
-- Children are never clustered themselves; INACTIF/SUPPRIME actors are never selected.
select s.identifiant_unique
from {{ ref('cluster_selection') }} as s
join {{ ref('vue_acteur') }} as v on v.identifiant_unique = s.identifiant_unique
where v.parent_id is not null or v.statut <> 'ACTIF'
