-- Latitude within [-90, 90] and longitude within [-180, 180] everywhere coordinates are published.
select identifiant_unique, latitude, longitude
from {{ ref('displayed_acteur') }}
where latitude not between -90 and 90 or longitude not between -180 and 180
