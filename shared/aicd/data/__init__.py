"""Data gate: read, check and compare datasets."""
