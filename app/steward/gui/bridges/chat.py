"""The chat area of the bridge: streamed chat requests and the stored chat sessions.

A chat runs as an asyncio task on the core; its events arrive as `chat_event` and its end as
`chat_finished`. Session reads that may block run in a worker thread (`run_blocking`).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal

from steward.gui.bridges.base import SubBridge
from steward.service import StewardService
from steward.store import ChatMessage as StoredMessage
from steward.store import ChatSession, ChatSessionInfo

if TYPE_CHECKING:
    from steward.gui.bridge import Bridge


class ChatBridge(SubBridge):
    """Send and stop chats, measure the context, keep the chat sessions."""

    chat_event = Signal(str, object)  # request id, EngineEvent of that request
    chat_finished = Signal(str)

    def __init__(self, core: Bridge) -> None:
        super().__init__(core)
        self._chats: dict[str, asyncio.Task[None]] = {}
        self._ids = itertools.count(1)

    # --- requests ------------------------------------------------------------------------------

    def send_chat(
        self,
        messages: list[tuple[str, str]],
        model: str = "auto",
        strategy: str | None = None,
        max_tokens: int | None = None,
    ) -> str | None:
        """Start a chat request; its events arrive on `chat_event`. Returns the request id."""
        if self.service is None:
            self._core.notice.emit("warning", "The engine is still starting; try again in a moment.")
            return None
        rid = f"chat{next(self._ids)}"
        try:
            request = self.service.build_request(
                messages, model=model, strategy=strategy, max_tokens=max_tokens, request_id=rid
            )
        except ValueError as exc:
            self._core.notice.emit("error", str(exc))
            return None
        self._chats[rid] = self._core.spawn(self._run_chat(rid, self.service, request))
        return rid

    async def _run_chat(self, rid: str, service: StewardService, request: Any) -> None:
        try:
            async for event in service.ask(request):
                self.chat_event.emit(rid, event)
        finally:
            self._chats.pop(rid, None)
            self.chat_finished.emit(rid)
            self._core.request_snapshot()

    def stop_chat(self, rid: str) -> None:
        task = self._chats.get(rid)
        if task is not None:
            task.cancel()

    def stop_all(self) -> None:
        """Cancel every running chat (at shutdown)."""
        for task in list(self._chats.values()):
            task.cancel()

    def context_meter(self, key: str, messages: list[tuple[str, str]]) -> tuple[int, int | None] | None:
        """(tokens used, window) of `messages` on model `key`; no I/O."""
        return self.service.context_meter(key, messages) if self.service else None

    # --- stored sessions -----------------------------------------------------------------------

    def list_sessions(self, done: Callable[[list[ChatSessionInfo]], None]) -> None:
        store = self._core.store
        if store is not None:
            self._core.run_blocking(store.list_sessions, done, "reading chat sessions")

    def load_session(self, session_id: str, done: Callable[[ChatSession | None], None]) -> None:
        store = self._core.store
        if store is not None:
            self._core.run_blocking(lambda: store.load_session(session_id), done, "opening the chat")

    def create_session(self, title: str) -> str | None:
        """A new stored session (written in the background); None without a store."""
        store = self._core.store
        return store.create_session(title, time.time()) if store else None

    def save_message(self, message: StoredMessage) -> None:
        store = self._core.store
        if store is not None:
            store.append_message(message)

    def rename_session(self, session_id: str, title: str) -> None:
        store = self._core.store
        if store is not None:
            store.rename_session(session_id, title, time.time())

    def delete_session(self, session_id: str, done: Callable[[bool], None]) -> None:
        store = self._core.store
        if store is not None:
            self._core.run_blocking(lambda: store.delete_session(session_id), done, "deleting the chat")
