"""Clustering: candidates (TF-IDF top-k), scoring (rapidfuzz per field), grouping (no chaining)."""
