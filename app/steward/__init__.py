"""Steward: a desktop control panel that keeps local LLMs answering."""

__version__ = "0.1.0"
