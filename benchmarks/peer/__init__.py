"""The plain python-telegram-bot peer of `benchmarks/conversation.py` (issue 9)."""
