-- The exceptions seed's departement_par_regle must be what the prefix rule gives (consistency of macro and seed),
-- and departement_reel must differ from it (otherwise the row is not an exception).
select *
from {{ ref('postal_code_departement_exceptions') }}
where departement_par_regle <> {{ departement_from_postal_code('code_postal') }}
   or departement_reel = departement_par_regle
