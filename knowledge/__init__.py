"""The FAQ engine: knowledge base, Chinese/English normalisation, matching. Pure Python."""

from knowledge.entries import Entry, KnowledgeBase, Link
from knowledge.loader import KnowledgeBaseError, check_knowledge_base, load_knowledge_base

__all__ = [
    "Entry",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Link",
    "check_knowledge_base",
    "load_knowledge_base",
]
