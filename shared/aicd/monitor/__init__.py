"""Production gate: read what the model does in production and decide promote / hold / rollback."""
