"""Qt-free asyncio reliability engine: routing, breakers, retries, fallbacks, health.

Imports nothing else from steward; backends implement the protocol defined here.
"""
