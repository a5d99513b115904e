"""Data shipped inside the wheel (read with importlib.resources): icons, catalog, default config, stylesheet."""
