"""Write a run's cohort of suggestions; apply the approved ones."""
