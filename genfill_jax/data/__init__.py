"""Data: hole generators, corruption, torch datasets and NumPy loaders."""
