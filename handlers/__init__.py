"""Telegram handlers, thin: parse, authorise, call storage, render from the catalogue."""
