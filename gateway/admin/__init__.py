"""`workstream-admin`: the operator's commands (credentials, state database, mappings)."""
