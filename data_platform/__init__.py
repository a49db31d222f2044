"""Deduplication platform for ADEME's circular-economy actors."""
