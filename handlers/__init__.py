"""Telegram adapters, one module per feature; each exposes `register(application)`."""
