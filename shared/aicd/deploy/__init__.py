"""Release gate: put a registered model behind an endpoint, keep what is needed to roll back."""
