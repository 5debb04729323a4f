"""The domain: one module per domain, each public function one unit of work.

A service function takes the services and typed arguments, opens one `Work`
(`services.work(update_id)`), does the change and writes every message it causes in that
transaction, and returns a typed result. Handlers parse, authorise, call one, and render.
"""
