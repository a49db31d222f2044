{{ config(materialized='table') }}
{#- One row per word the normalization knows (from the seeds abbreviations, legal_forms, stop_words):
    its expansion in names (abbreviations of scope 'all'), its expansion in addresses (every scope), and
    whether names drop it (it, or its expansion in names, is a legal form or a stop word). A tiny table that
    int_acteur_normalise hash-joins every word against. -#}
with abbreviations as (
    select abbreviation, expansion, scope from {{ ref('abbreviations') }}
),

drop_words as (
    select legal_form as word from {{ ref('legal_forms') }}
    union
    select word from {{ ref('stop_words') }}
),

words as (
    select abbreviation as word from abbreviations
    union
    select word from drop_words
)

select
    w.word,
    ab_all.expansion as expansion_nom,
    ab.expansion as expansion_adresse,
    (dw.word is not null or dwx.word is not null) as drop_in_nom
from words as w
left join abbreviations as ab on ab.abbreviation = w.word
left join abbreviations as ab_all on ab_all.abbreviation = w.word and ab_all.scope = 'all'
left join drop_words as dw on dw.word = w.word
left join drop_words as dwx on dwx.word = ab_all.expansion
