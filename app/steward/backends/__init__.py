"""Adapters that speak to real model servers (Ollama, OpenAI-compatible, llama.cpp)."""
