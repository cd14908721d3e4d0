"""Linli (邻里): a Telegram assistant for residential-community group chats."""

__version__ = "0.1.0"
