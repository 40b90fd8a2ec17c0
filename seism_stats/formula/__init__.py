"""Formula interface (parsed with formulaic, the engine statsmodels 0.15 uses)."""
