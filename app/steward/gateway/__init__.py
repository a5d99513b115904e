"""The local OpenAI- and Ollama-compatible HTTP endpoint, on the engine's loop.

Every request goes through the application service (`steward.service`), so gateway clients get
the same routing, fallbacks, breakers and context fitting as the chat page, and feed the same
charts and audit trail (source "gateway").
"""

from steward.gateway.server import Gateway

__all__ = ["Gateway"]
