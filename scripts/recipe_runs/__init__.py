"""The recipes behind scripts/recipes.py, one module per model family (issue 11)."""
