"""The embedded default: the coffee-recommendation story's dataset and config."""
