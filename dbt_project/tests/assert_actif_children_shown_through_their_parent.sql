-- Hiding a child never hides its cluster: an ACTIF child whose parent is ACTIF is shown through that parent, so
-- the parent must be displayed. Fails on a parent that has a parent itself (a chain) or a parent missing from
-- the displayed layer (e.g. the layer built from an older consolidation).
select c.identifiant_unique, c.parent_id
from {{ ref('int_acteur_consolide') }} as c
join {{ ref('int_acteur_consolide') }} as p on p.identifiant_unique = c.parent_id
where c.statut = 'ACTIF'
  and p.statut = 'ACTIF'
  and not exists (select 1 from {{ ref('displayed_acteur') }} as d where d.identifiant_unique = p.identifiant_unique)
