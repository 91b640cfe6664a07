"""The ledger: schema, engine set-up, migrations and the operations on it."""
