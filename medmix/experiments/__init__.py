"""Reproducible experiments built on medmix (each a module with presets and a resumable run function)."""
