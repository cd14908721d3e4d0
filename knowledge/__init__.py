"""The FAQ engine: knowledge base, Chinese/English normalisation, matching. Pure Python."""

from knowledge.cooldown import AnswerCooldown
from knowledge.entries import Entry, KnowledgeBase, Link
from knowledge.loader import (
    KnowledgeBaseError,
    check_knowledge_base,
    default_path,
    load_knowledge_base,
)
from knowledge.matcher import Decision, Matcher, MatchResult, Policy

__all__ = [
    "AnswerCooldown",
    "Decision",
    "Entry",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Link",
    "MatchResult",
    "Matcher",
    "Policy",
    "check_knowledge_base",
    "default_path",
    "load_knowledge_base",
]
