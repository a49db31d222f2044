"""Labelled pairs: what reviewers' decisions say about pairs of actors (match / no match)."""
