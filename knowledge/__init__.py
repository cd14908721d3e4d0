"""The FAQ engine: knowledge base, Chinese/English normalisation, matching. Pure Python."""
