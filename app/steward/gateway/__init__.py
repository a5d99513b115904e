"""Optional local OpenAI-compatible endpoint (a later issue)."""
