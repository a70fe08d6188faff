"""The recipes behind recipes/recipes.py, one module per model family (issue 11); results_file writes their figures."""
