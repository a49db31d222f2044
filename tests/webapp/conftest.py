"""The review admin's fixtures (defined in test_admin.py), shared by the other webapp test modules."""
from tests.webapp.test_admin import _django, data, users  # noqa: F401
