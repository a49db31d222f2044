"""Run parameters: defaults, validation messages naming the parameter."""
import pytest

from data_platform.cluster.params import DEFAULT_PARAMS, ParamError, validate_params, validate_run_id


def test_defaults_are_valid_and_complete():
    p = validate_params({})
    assert set(p) == set(DEFAULT_PARAMS)
    assert p["threshold"] == DEFAULT_PARAMS["threshold"]
    assert p["sources"] == []


@pytest.mark.parametrize("raw, name", [
    ({"threshold": 1.5}, "threshold"),
    ({"threshold": "high"}, "threshold"),
    ({"sources": ["nope"]}, "sources"),
    ({"acteur_types": ["garage"]}, "acteur_types"),
    ({"departements": ["20"]}, "departements"),
    ({"departements": ["977"]}, "departements"),
    ({"nom_regex": "(unclosed"}, "nom_regex"),
    ({"required_fields": ["identifiant_unique"]}, "required_fields"),
    ({"fuzzy_fields": {"nom": 1, "color": 1}}, "fuzzy_fields"),
    ({"fuzzy_fields": {"adresse": 1}}, "fuzzy_fields"),
    ({"max_distance_m": -1}, "max_distance_m"),
    ({"dry_run": "yes"}, "dry_run"),
    ({"exact_match_fields": ["nom"]}, "exact_match_fields"),
    ({"normalize_drop_short_words": 2.5}, "normalize_drop_short_words"),
    ({"thresold": 0.5}, "thresold"),
])
def test_invalid_parameter_is_named(raw, name):
    with pytest.raises(ParamError) as err:
        validate_params(raw)
    assert err.value.name == name
    assert f"'{name}'" in str(err.value)


def test_values_are_normalized():
    p = validate_params({"sources": "refashion, ecosystem", "departements": ["2A", "971", "01", "2A"],
                         "threshold": 1})
    assert p["sources"] == ["refashion", "ecosystem"]
    assert p["departements"] == ["2A", "971", "01"]
    assert p["threshold"] == 1.0 and isinstance(p["threshold"], float)


def test_run_id_is_checked():
    assert validate_run_id("manual__2026-11-22T00:43:06.797781+00:00")
    with pytest.raises(ParamError):
        validate_run_id("x'; drop table acteur; --")
