"""Django project: the schema (models + migrations) and the review admin."""
