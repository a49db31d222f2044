-- Synthetic actors for timing the dbt stages (not a dbt file: dbt_project/bench is outside every dbt path).
-- psql "$DATABASE_URL" -v n=500000 -f dbt_project/bench/generate_actors.sql   (on a scratch database: it TRUNCATEs)
-- then: data-platform dbt build --selector cluster_prepare --vars '{"run_id": "perf"}'
-- Synthetic actors: :n rows, names/addresses with abbreviations, legal forms, accents; postal codes with faults.
truncate cluster_membership, cluster_run, revision_acteur, acteur cascade;
insert into acteur (identifiant_unique, identifiant_externe, source, acteur_type, nom, nom_commercial, siret,
                    adresse, code_postal, ville, latitude, longitude, telephone, statut)
select
    src || '_' || g, g::text, src, typ,
    (array['SARL','SAS','','','Association','EURL',''])[1 + g % 7] || ' ' ||
    (array['Boutique','Déchèterie','Ressourcerie','Emmaüs','Garage','Cordonnerie','Pressing','Réparation','Atelier','Bricolage'])[1 + (g / 7) % 10] || ' ' ||
    (array['du Centre','de la Gare','St Martin','Éco-Œuvre','des Lilas','Le Relais','Ste Anne','du Port','Pasteur','Victor Hugo'])[1 + (g / 70) % 10] || ' ' || (g % 997)::text,
    case when g % 3 = 0 then 'Enseigne ' || (g % 1013)::text else '' end,
    case when g % 4 = 0 then lpad((g * 7919 % 100000000000000)::text, 14, '0') else '' end,
    (g % 200)::text || ' ' || (array['av.','bd','rue','r.','pl','imp.','chemin','rte','all.','quai'])[1 + g % 10] || ' ' ||
        (array['du Général de Gaulle','Jean Jaurès','de la République','Victor Hugo','des Écoles','Pasteur'])[1 + (g / 10) % 6],
    case when g % 50 = 0 then '' when g % 13 = 0 then ((1000 + g % 9000))::text
         else lpad(((1000 + (g * 37) % 95000))::text, 5, '0') || case when g % 29 = 0 then ' CEDEX' else '' end end,
    (array['Paris 11e','Lyon','Marseille','Ajaccio','Bastia','Gap','Claret','Bourg-en-Bresse','St Étienne','Pointe-à-Pitre'])[1 + g % 10],
    41 + (g % 1000) / 100.0, -4 + (g % 900) / 100.0,
    case g % 3 when 0 then '+33 1 23 45 ' || lpad((g % 10000)::text, 4, '0') when 1 then '0' || (100000000 + g % 899999999)::text else '' end,
    case when g % 20 = 0 then 'INACTIF' else 'ACTIF' end
from generate_series(1::bigint, :n) as g
cross join lateral (select (array['refashion','ecosystem','ecomaison','corepile','batribox','aliapur','sinoe','cma','communaute'])[1 + g % 9] as src,
                           (array['commerce','artisan','ess','decheterie','pav_prive'])[1 + g % 5] as typ) as x;
-- revisions on 5 %, parents for 1 % with 2 children each
insert into revision_acteur (identifiant_unique, nom, code_postal)
select identifiant_unique, case when random() < 0.5 then nom || ' corrigé' else '' end, '' from acteur where hashtext(identifiant_unique) % 20 = 0;
insert into revision_acteur (identifiant_unique, nom, statut)
select 'parent_gen_' || g, 'Parent ' || g, 'ACTIF' from generate_series(1, :n / 100) g;
insert into revision_acteur (identifiant_unique, parent_id)
select a.identifiant_unique, 'parent_gen_' || ((row_number() over (order by a.identifiant_unique) - 1) / 2 + 1)
from acteur a where not exists (select 1 from revision_acteur r where r.identifiant_unique = a.identifiant_unique)
order by a.identifiant_unique limit :n / 50;
insert into cluster_run (run_id, params) values ('perf', '{"normalize_drop_short_words": 2, "normalize_sort_words": true}');
analyze acteur; analyze revision_acteur;
