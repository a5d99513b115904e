"""Context-window handling: fit each conversation to the live window of the model that will answer it.

`ContextManager` (manager.py) implements the engine's `ContextFitter` hook; the other modules each hold
one concept (budget, counting, policies, summaries, live windows).
"""

from steward.engine.context.manager import ContextManager
from steward.engine.context.summarize import Summarize, engine_summarizer

__all__ = ["ContextManager", "Summarize", "engine_summarizer"]
