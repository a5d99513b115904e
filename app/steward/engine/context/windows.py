"""The live context window of each model, and the window Steward asks Ollama for.

Windows come from the server (`Backend.describe`: llama.cpp `/slots`, Ollama `/api/ps` and
`/api/show`, LM Studio/vLLM model lists), stored on `ModelState.info` and refreshed on demand.
Ollama picks its own default window when a request does not name one, so Steward always sends
`options.num_ctx`: the request's own `num_ctx`, else `default_num_ctx`, capped by the trained window;
that is then the model's live window.
"""

from __future__ import annotations

from dataclasses import replace

from steward.engine.failures import BackendError
from steward.engine.registry import ModelState
from steward.engine.settings import ContextSettings
from steward.engine.types import GenerationParams, ModelInfo

OLLAMA = "ollama"


def wants_num_ctx(state: ModelState) -> bool:
    """True for servers whose window is whatever each request asks for (Ollama)."""
    return state.backend.kind == OLLAMA


def chosen_num_ctx(state: ModelState, params: GenerationParams | None, settings: ContextSettings) -> int:
    """The window Steward asks Ollama for: the request's, else the default, capped by the trained window."""
    wanted = (params.num_ctx if params is not None else None) or settings.default_num_ctx
    trained = state.info.trained_context if state.info is not None else None
    return min(wanted, trained) if trained else wanted


def window_of(state: ModelState, params: GenerationParams | None, settings: ContextSettings) -> int | None:
    """The window the model will run this request with, as far as known without I/O."""
    if state.window_override is not None:
        return state.window_override
    if wants_num_ctx(state):
        return chosen_num_ctx(state, params, settings)
    return state.window


def params_for(state: ModelState, params: GenerationParams, window: int) -> GenerationParams:
    """`params` with `num_ctx` set where the server needs it (Ollama); unchanged elsewhere."""
    if wants_num_ctx(state) and params.num_ctx != window:
        return replace(params, num_ctx=window)
    return params


def record_window(state: ModelState, window: int) -> None:
    """Note the window the model is (about to be) loaded with, so routing and snapshots see it."""
    info = state.info or ModelInfo(state.ref.model)
    if info.loaded_context != window:
        state.info = replace(info, loaded_context=window)


async def refresh(state: ModelState) -> int | None:
    """Ask the server again (after a reload, or when the window is unknown); None if it cannot say.

    Marks the model's window as checked either way: the engine clears that mark when the server
    restarts or the model is reloaded, so a server that reports no window is not asked per request.
    """
    try:
        info = await state.backend.describe(state.ref.model)
    except BackendError:
        return state.window
    state.info = info
    state.window_checked = True
    return state.window
