"""Persistence: the schema, migrations and every query. Knows nothing of Telegram."""
