"""One chat request from start to finish: candidates tried sequentially, hedged or raced,
retries with backoff, fallbacks, partial answers abandoned — every decision an event."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from steward.engine.attempt import AttemptProgress, AttemptResult, stream_attempt
from steward.engine.backend import WarmupAware
from steward.engine.breaker import Permit
from steward.engine.clock import Clock
from steward.engine.events import (
    AttemptCancelled,
    AttemptFailed,
    AttemptStarted,
    CandidateSkipped,
    Completed,
    EngineEvent,
    FallbackChosen,
    HedgeStarted,
    ModelLoading,
    PartialAbandoned,
    RequestFailed,
    RequestStarted,
    RetryScheduled,
    Token,
    TruncationSuspected,
)
from steward.engine.failures import BackendError, FailureKind, policy_for
from steward.engine.fitting import ContextFitter, FirstTokenBudget, FitResult
from steward.engine.quality import score_answer
from steward.engine.registry import ModelState
from steward.engine.retry import backoff_delay
from steward.engine.router import AUTO, Route
from steward.engine.settings import ContextPolicy, EngineSettings, Strategy
from steward.engine.types import ChatMessage, GenerationParams, ProbeResult, ServerState


@dataclass(frozen=True)
class ChatRequest:
    """What the user asked: a conversation, a model ("auto" or "server/model"), a strategy."""

    messages: tuple[ChatMessage, ...]
    model: str = AUTO
    strategy: Strategy | None = None
    params: GenerationParams = field(default_factory=GenerationParams)
    request_id: str | None = None
    context_policy: ContextPolicy | None = None
    source: str = "chat"
    """Who asked: chat, cli, gateway, probe, lab (carried into the events for the dashboard)."""
    fallback: bool = True
    """False: only the first choice may answer (no chain, no other model)."""
    client: str = ""
    """Who sent it, as the client said (a gateway client's user-agent); shown, never trusted."""


@dataclass
class RunEnv:
    """What a request needs from the engine (kept narrow so this module stays testable)."""

    settings: EngineSettings
    clock: Clock
    rng: random.Random
    wall: Callable[[], float]
    fitter: ContextFitter
    emit: Callable[[EngineEvent], None]
    skip_reason: Callable[[ModelState], tuple[FailureKind, str] | None]
    acquire: Callable[[ModelState], Permit | None]
    force_acquire: Callable[[ModelState], Permit]
    on_success: Callable[[ModelState, Permit, AttemptResult], None]
    on_failure: Callable[[ModelState, Permit, BackendError, float], None]
    on_release: Callable[[ModelState, Permit], None]
    on_truncation: Callable[[ModelState], None]
    probe: Callable[[ModelState], Awaitable[ProbeResult]]
    on_quality: Callable[[ModelState, float], None] = lambda state, score: None


@dataclass(eq=False)
class _Attempt:
    number: int
    state: ModelState
    permit: Permit
    progress: AttemptProgress | None = None
    task: asyncio.Task[AttemptResult] | None = None


class RequestRun:
    """Drives one request; `run()` emits events through `env.emit` and returns when done."""

    def __init__(
        self,
        env: RunEnv,
        request: ChatRequest,
        route: Route,
        rid: str,
        task_label: str,
        notes: tuple[str, ...] = (),
    ) -> None:
        self.env = env
        self.notes = notes
        if request.params.max_tokens is None:
            limit = env.settings.context.max_reply_tokens
            request = replace(request, params=replace(request.params, max_tokens=limit))
        self.request = request
        self.route = route
        self.rid = rid
        self.task_label = task_label
        s = env.settings
        self.strategy = request.strategy or s.strategy
        self.policy = request.context_policy or s.context.policy
        self.pending: deque[ModelState] = deque(route.candidates)
        self.active: dict[int, _Attempt] = {}
        self.winner: _Attempt | None = None
        self.failures: list[tuple[str, FailureKind, str]] = []
        self.skipped: list[tuple[str, FailureKind, str]] = []
        self.circuit_open: list[ModelState] = []
        self.started = 0
        self.results: asyncio.Queue[_Attempt] = asyncio.Queue()
        self.deadline = env.clock.now() + s.timeouts.request_deadline_s
        self.t0 = env.clock.now()

    # --- events ----------------------------------------------------------------------------

    def _emit(self, event_type: type[EngineEvent], **fields: object) -> None:
        self.env.emit(event_type(ts=self.env.wall(), request_id=self.rid, **fields))

    def _asked(self) -> str:
        """The user's last message (what the answer's quality is judged against)."""
        return next((m.content for m in reversed(self.request.messages) if m.role == "user"), "")

    # --- main loop -------------------------------------------------------------------------

    async def run(self) -> None:
        self._emit(
            RequestStarted,
            strategy=self.strategy.value,
            candidates=tuple(m.key for m in self.route.candidates),
            explanation=self.route.explanation,
            task=self.task_label,
            notes=self.notes,
            source=self.request.source,
            client=self.request.client[:200],
            asked=self.request.model,
        )
        try:
            await self._loop()
        finally:
            await self._cancel_all("request ended")

    async def _loop(self) -> None:
        clock = self.env.clock
        if not self._start_next(reason=f"first choice: {self.route.explanation}") and not self._panic():
            self._fail_no_candidates()
            return
        if self.strategy is Strategy.RACE:
            while self._start_next(reason="race: all candidates at once", hedge=True):
                pass
        while True:
            waiters: set[asyncio.Future[object]] = set()
            getter = asyncio.ensure_future(self.results.get())
            waiters.add(getter)  # type: ignore[arg-type]
            hedge_timer = None
            if self.strategy is Strategy.HEDGED and self.winner is None and self._hedgeable():
                hedge_delay = self._hedge_delay()
                hedge_timer = asyncio.ensure_future(clock.sleep(hedge_delay))
                waiters.add(hedge_timer)  # type: ignore[arg-type]
            deadline_timer = asyncio.ensure_future(clock.sleep(max(0.0, self.deadline - clock.now())))
            waiters.add(deadline_timer)  # type: ignore[arg-type]
            try:
                done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.cancel()
            if getter in done:
                attempt = getter.result()
                if await self._on_attempt_done(attempt):
                    return
                continue
            if hedge_timer is not None and hedge_timer in done:
                waiting_on = ", ".join(a.state.key for a in self.active.values())
                self._start_next(
                    reason=f"hedge: no first token from {waiting_on} in {hedge_delay:.2f} s",
                    hedge=True,
                    hedge_after=hedge_delay,
                )
                continue
            await self._cancel_all("request deadline passed")
            self._emit(
                RequestFailed,
                detail=f"request deadline of {self.env.settings.timeouts.request_deadline_s:g} s passed",
                kinds=tuple(k for _, k, _ in self.failures),
            )
            return

    async def _on_attempt_done(self, attempt: _Attempt) -> bool:
        """Handle a finished attempt; True when the request is over."""
        if attempt.number not in self.active:
            return False  # cancelled loser
        del self.active[attempt.number]
        task = attempt.task
        assert task is not None
        if task.cancelled():
            return False
        error = task.exception()
        if error is None:
            result = task.result()
            if self.winner is None:
                self.winner = attempt
            await self._cancel_all(f"{attempt.state.key} answered")  # the final event must come last
            quality = score_answer(self._asked(), result.text, result.finish_reason, loop_checked=True)
            self.env.on_quality(attempt.state, quality.score)
            self._emit(
                Completed,
                model=attempt.state.key,
                text=result.text,
                usage=result.usage,
                timings=result.timings,
                ttft_s=result.ttft_s,
                total_s=self.env.clock.now() - self.t0,
                attempts=self.started,
                finish_reason=result.finish_reason,
                note=result.note,
                quality=quality.score,
                quality_signals=tuple(f"{s.name} (−{s.penalty:g}): {s.detail}" for s in quality.signals),
            )
            return True
        if not isinstance(error, BackendError):
            error = BackendError(FailureKind.UNKNOWN, f"{type(error).__name__}: {error}")
        if self.winner is attempt:
            self.winner = None
        self.failures.append((attempt.state.key, error.kind, error.detail))
        policy = policy_for(error.kind)
        if not policy.fall_back:
            await self._cancel_all(f"request failed: {error.kind.value}")
            self._emit(RequestFailed, detail=f"{attempt.state.key}: {error.detail}", kinds=(error.kind,))
            return True
        if error.kind is FailureKind.CONTEXT_OVERFLOW:
            self._prefer_larger_windows(attempt.state, error)
        if self.active:
            return False  # a hedge is still running; let it answer
        reason = f"{attempt.state.key} failed ({error.kind.value}): {error.detail}"
        if error.kind is FailureKind.MODEL_LOADING:
            reason = f"{attempt.state.key} is still loading ({error.detail}): another model answers meanwhile"
        if self._start_next(reason=reason, from_model=attempt.state.key):
            return False
        self._fail_no_candidates()
        return True

    # --- starting attempts -----------------------------------------------------------------

    def _hedgeable(self) -> bool:
        return any(self._hedge_ok(m) for m in self.pending) and self._budget_left()

    def _hedge_ok(self, state: ModelState) -> bool:
        if self.env.settings.hedge.allow_same_server:
            return True
        busy = {a.state.ref.server_id for a in self.active.values()}
        return state.ref.server_id not in busy

    def _budget_left(self) -> bool:
        return self.started <= self.env.settings.retry.max_fallbacks

    def _hedge_delay(self) -> float:
        hedge = self.env.settings.hedge
        if self.strategy is Strategy.RACE:
            return 0.0
        if hedge.use_measured_p95 and self.active:
            primary = next(iter(self.active.values())).state
            snap = primary.metrics.snapshot()
            p95 = snap.ttft_p95
            if p95 is not None and snap.successes >= 5:
                return max(0.05, p95)
        return hedge.delay_s

    def _start_next(
        self,
        *,
        reason: str,
        hedge: bool = False,
        from_model: str | None = None,
        hedge_after: float | None = None,
    ) -> bool:
        while self.pending and self._budget_left():
            candidates = [m for m in self.pending if not hedge or self._hedge_ok(m)]
            if not candidates:
                return False
            state = candidates[0]
            self.pending.remove(state)
            skip = self.env.skip_reason(state)
            if skip is None and not self.env.fitter.can_hold_latest(
                state, self.request.messages, self.request.params
            ):
                window = self.env.fitter.window(state)
                skip = (FailureKind.CONTEXT_OVERFLOW, f"window {window} cannot hold the latest message")
            permit = self.env.acquire(state) if skip is None else None
            if permit is None:
                kind, why = skip or (FailureKind.CIRCUIT_OPEN, "circuit open")
                if kind is FailureKind.CIRCUIT_OPEN:
                    self.circuit_open.append(state)
                self.skipped.append((state.key, kind, why))
                self._emit(CandidateSkipped, model=state.key, reason=why, kind=kind)
                continue
            self._launch(
                state, permit, reason=reason, hedge=hedge, from_model=from_model, hedge_after=hedge_after
            )
            return True
        return False

    def _panic(self) -> bool:
        """Every candidate was skipped for an open circuit: try the one closest to half-opening."""
        if self.started or not self.circuit_open or not self.env.settings.breaker.panic_when_all_open:
            return False
        if any(kind is not FailureKind.CIRCUIT_OPEN for _, kind, _ in self.skipped):
            return False
        state = min(self.circuit_open, key=lambda m: m.breaker.reopen_in() or 0.0)
        wait = state.breaker.reopen_in() or 0.0
        reason = f"every circuit is open: trying {state.key} anyway (it half-opens in {wait:.0f} s)"
        self._launch(state, self.env.force_acquire(state), reason=reason)
        return True

    def _launch(
        self,
        state: ModelState,
        permit: Permit,
        *,
        reason: str,
        hedge: bool = False,
        from_model: str | None = None,
        hedge_after: float | None = None,
    ) -> None:
        self.started += 1
        attempt = _Attempt(number=self.started, state=state, permit=permit)
        if hedge and self.active:
            self._emit(
                HedgeStarted,
                model=state.key,
                after_s=hedge_after or 0.0,
                waiting_on=", ".join(a.state.key for a in self.active.values()),
            )
        elif from_model is not None:
            self._emit(FallbackChosen, from_model=from_model, model=state.key, reason=reason)
        self._emit(AttemptStarted, model=state.key, attempt=attempt.number, reason=reason)
        self.active[attempt.number] = attempt
        attempt.task = asyncio.ensure_future(self._attempt_loop(attempt))
        attempt.task.add_done_callback(self._done_callback(attempt))

    def _done_callback(self, attempt: _Attempt) -> Callable[[asyncio.Task[AttemptResult]], None]:
        return lambda _task: self.results.put_nowait(attempt)

    def _prefer_larger_windows(self, failed: ModelState, error: BackendError) -> None:
        window = self.env.fitter.window
        limit = error.n_ctx or window(failed)
        if limit is None:
            return
        bigger = [m for m in self.pending if (window(m) or limit + 1) > limit]
        bigger.sort(key=lambda m: -(window(m) or 0))
        smaller = [m for m in self.pending if m not in bigger]
        for state in smaller:
            self._emit(
                CandidateSkipped,
                model=state.key,
                kind=FailureKind.CONTEXT_OVERFLOW,
                reason=f"window {window(state)} is not larger than the {limit} that overflowed",
            )
        self.pending = deque(bigger)

    def _fail_no_candidates(self) -> None:
        parts = [f"{k} ({kind.value}: {detail})" for k, kind, detail in self.failures]
        parts += [f"{k} skipped: {why}" for k, _, why in self.skipped]
        if not self.route.candidates:
            detail = self.route.explanation
        elif parts:
            detail = "no model could answer: " + "; ".join(parts)
        else:
            detail = "no model could answer"
        kinds = tuple(k for _, k, _ in self.failures) + tuple(k for _, k, _ in self.skipped)
        self._emit(RequestFailed, detail=detail, kinds=kinds)

    # --- one candidate, with its retries ---------------------------------------------------

    def _on_token(self, attempt: _Attempt, text: str) -> None:
        if self.winner is None:
            self.winner = attempt
            for other in list(self.active.values()):
                if other is not attempt:
                    self._cancel(other, f"{attempt.state.key} answered first")
        if self.winner is attempt:
            self._emit(Token, model=attempt.state.key, attempt=attempt.number, text=text)

    def _cancel(self, attempt: _Attempt, reason: str) -> None:
        self.active.pop(attempt.number, None)
        if attempt.task is not None and not attempt.task.done():
            attempt.task.cancel()
            self._emit(AttemptCancelled, model=attempt.state.key, attempt=attempt.number, reason=reason)

    async def _cancel_all(self, reason: str) -> None:
        tasks = [a.task for a in self.active.values() if a.task is not None]
        for attempt in list(self.active.values()):
            self._cancel(attempt, reason)
        if tasks:
            # Finished ones too: an attempt that failed just before the request was closed must
            # have its exception retrieved here, or asyncio logs "Task exception was never retrieved".
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _attempt_loop(self, attempt: _Attempt) -> AttemptResult:
        env, s, state = self.env, self.env.settings, attempt.state
        retries = 0
        loading_since: float | None = None
        while True:
            started = env.clock.now()
            progress = AttemptProgress(started)
            attempt.progress = progress
            try:
                result, fit = await self._one_try(attempt, progress)
            except asyncio.CancelledError:
                env.on_release(state, attempt.permit)
                raise
            except BackendError as error:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    env.on_release(state, attempt.permit)
                    raise asyncio.CancelledError from error
                elapsed = env.clock.now() - started
                env.on_failure(state, attempt.permit, error, elapsed)
                if progress.text:
                    self._emit(PartialAbandoned, model=state.key, attempt=attempt.number, text=progress.text)
                    if self.winner is attempt:
                        self.winner = None
                policy = policy_for(error.kind)
                now = env.clock.now()
                if error.kind is FailureKind.MODEL_LOADING:
                    loading_since = loading_since if loading_since is not None else now
                    # Warm-up is waited for only when no other model could answer meanwhile.
                    will_retry = (
                        now - loading_since < s.timeouts.model_loading_wait_s
                        and not self._ready_alternative()
                    )
                else:
                    will_retry = policy.retry_same and retries < s.retry.max_retries_same_model
                will_retry = will_retry and now < self.deadline
                self._emit(
                    AttemptFailed,
                    model=state.key,
                    attempt=attempt.number,
                    kind=error.kind,
                    detail=error.detail,
                    elapsed_s=elapsed,
                    will_retry=will_retry,
                )
                if not will_retry:
                    raise
                if error.kind is FailureKind.MODEL_LOADING:
                    self._emit(ModelLoading, model=state.key, detail=error.detail)
                    await self._wait_loaded(state, loading_since or now)
                else:
                    retries += 1
                    delay = backoff_delay(retries, s.retry, env.rng, error.retry_after)
                    self._emit(
                        RetryScheduled,
                        model=state.key,
                        attempt=attempt.number,
                        delay_s=delay,
                        reason=f"{error.kind.value}: retry {retries} of {s.retry.max_retries_same_model}",
                    )
                    await env.clock.sleep(delay)
                permit = env.acquire(state)
                if permit is None:
                    raise BackendError(FailureKind.CIRCUIT_OPEN, "circuit opened before the retry") from error
                attempt.permit = permit
                continue
            env.on_success(state, attempt.permit, result)
            reported = env.fitter.truncation(state, fit, result.usage)
            if reported is not None:
                env.on_truncation(state)
                self._emit(
                    TruncationSuspected,
                    model=state.key,
                    expected_tokens=reported[0],
                    reported_tokens=reported[1],
                )
            return result

    async def _one_try(self, attempt: _Attempt, progress: AttemptProgress) -> tuple[AttemptResult, FitResult]:
        """Fit the conversation, take a slot on the server, stream the answer.

        Fitting comes BEFORE the slot: a summary is written through the engine and may need a slot
        on the same server (one slot is the llama-server default), so holding ours would deadlock.
        Look-ups while fitting spend the attempt's first-token budget; waiting in the server's
        queue does not (a busy server is not a slow model).
        """
        env, state = self.env, attempt.state
        timeouts = env.settings.timeouts
        budget = FirstTokenBudget(env.clock, timeouts.first_token_s)
        try:
            fit = await env.fitter.fit(
                state, self.request.messages, self.request.params, self.policy, self.rid, budget
            )
            if fit.event is not None:
                env.emit(fit.event)
            bulkhead = state.server.bulkhead
            await budget.excluded(bulkhead.acquire())
        except (BackendError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a fitter bug must not crash the request: classify it
            raise BackendError(FailureKind.UNKNOWN, f"{type(exc).__name__}: {exc}") from exc
        state.in_flight += 1
        try:
            result = await stream_attempt(
                state.backend,
                state.ref.model,
                fit.messages,
                fit.params,
                clock=env.clock,
                timeouts=timeouts,
                degenerate=env.settings.degenerate,
                deadline=self.deadline,
                progress=progress,
                on_token=lambda text: self._on_token(attempt, text),
                first_token_by=budget.deadline,
            )
            return result, fit
        except (BackendError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a backend bug must not crash the request: classify it
            raise BackendError(FailureKind.UNKNOWN, f"{type(exc).__name__}: {exc}") from exc
        finally:
            state.in_flight -= 1
            state.last_used_at = env.clock.now()
            bulkhead.release()

    def _ready_alternative(self) -> bool:
        """Another candidate that could take over now (not skipped, budget left)."""
        return self._budget_left() and any(self.env.skip_reason(m) is None for m in self.pending)

    async def _wait_loaded(self, state: ModelState, since: float) -> None:
        """Poll the server's probe until the model is up (or the loading wait is over); a backend
        that knows each model's warm-up (a llama-server router) is asked about this model instead."""
        env = self.env
        limit = since + env.settings.timeouts.model_loading_wait_s
        backend = state.backend
        aware = isinstance(backend, WarmupAware)
        while env.clock.now() < min(limit, self.deadline):
            await env.clock.sleep(0.25 if aware else 1.0)
            over = await backend.warmup_over(state.ref.model) if isinstance(backend, WarmupAware) else None
            if over is not None:
                if over:
                    return
                continue
            result = await env.probe(state)
            if result.state is ServerState.UP:
                return
