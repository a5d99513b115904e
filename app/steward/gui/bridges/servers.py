"""The servers area of the bridge: server rows and logs, managed servers and endpoints.

The Servers page reads plain rows built by the service and asks for actions that run as asyncio
tasks; outcomes arrive as `servers_changed`, `server_problem` and notices. Secrets go straight
to the keyring, never to settings.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal

from steward.gui.bridges.base import NOT_READY, SubBridge
from steward.service import Problems
from steward.service.endpoints import EndpointCheck
from steward.service.server_rows import ServerRow


class ServersBridge(SubBridge):
    """Managed, configured and discovered servers: what they are and what the user does to them."""

    servers_changed = Signal()
    server_problem = Signal(str)  # a message for the Servers page (keyring, start failures)

    # --- rows, logs, actions -------------------------------------------------------------------

    def server_rows(self) -> list[ServerRow]:
        """Managed, configured and discovered servers with their current status."""
        if self.service is None:
            return []
        return self.service.server_rows(self._core.snapshot)

    def server_log(self, name: str, count: int = 300) -> list[str]:
        """The newest `count` log lines of managed server `name` ([] when it is not managed)."""
        return self.service.server_log(name, count) if self.service else []

    def server_action(self, name: str, action: str) -> None:
        """ "start", "stop" or "restart" managed server `name` in the background."""
        service = self.service
        if service is None:
            return

        async def go() -> None:
            try:
                status = await service.server_action(name, action)
            except Exception as exc:
                self.server_problem.emit(f"Could not {action} {name}: {exc}")
            else:
                if action != "stop" and str(status.state) != "ready":
                    self.server_problem.emit(f"{name} is {status.state}: {status.detail}")
                else:
                    self._core.notice.emit("info", f"{name}: {status.state}")
            self.servers_changed.emit()
            self._core.refresh_snapshot()

        self._core.spawn(go())

    def rediscover(self) -> None:
        """Probe the discovery ports again; new servers are routed to."""
        if self.service is None:
            return

        def found(count: int) -> None:
            self._core.notice.emit("info", f"discovery found {count} server(s) on loopback ports")
            self.servers_changed.emit()

        self._core.then(self.service.rediscover(), found, "discovery")

    def embedded_summary(self) -> str:
        """Whether the embedded servers run and which setting decided it."""
        return self.service.embedded_summary() if self.service else ""

    def add_managed(self, profile: dict[str, object]) -> Problems:
        """Check and add a managed llama-server profile: saved in the settings, then started.

        `profile` holds ServerProfileConfig fields (name, model_path, ctx_size, port, threads,
        gpu_layers). Returns problems as (field, reason) without doing anything when invalid.
        """
        service = self.service
        if service is None:
            return NOT_READY
        problems = service.check_managed(profile)
        if problems:
            return problems
        name = str(profile.get("name", ""))

        async def go() -> None:
            try:
                problems, status = await service.add_managed(profile)
            except Exception as exc:  # ProfileError (binary/model missing), name taken, ...
                self.server_problem.emit(f"{name} saved but not started: {exc}")
            else:
                if problems:
                    self.server_problem.emit(f"{name} not added: {problems[0][1]}")
                elif status is not None and str(status.state) != "ready":
                    self.server_problem.emit(f"{name} is {status.state}: {status.detail}")
                elif status is not None:
                    self._core.notice.emit("info", f"{name} started on port {status.port}")
            self._core.settings_changed.emit(service.settings)
            self.servers_changed.emit()
            self._core.refresh_snapshot()

        self._core.spawn(go())
        return []

    # --- endpoints -----------------------------------------------------------------------------

    def add_endpoint(self, endpoint_id: str, kind: str, url: str, api_key: str = "") -> Problems:
        """Check and add an endpoint (key to the keyring, entry to the settings, routed at once).

        Returns problems as (field, reason) without doing anything when the entry is invalid.
        """
        if self.service is None:
            return NOT_READY
        problems = self.service.endpoints.check(endpoint_id, kind, url)
        if problems:
            return problems

        def added(problems: Problems) -> None:
            if problems:
                reasons = "; ".join(f"{field}: {reason}" if field else reason for field, reason in problems)
                self.server_problem.emit(f"Endpoint {endpoint_id} not added: {reasons}")
            else:
                self._core.notice.emit("info", f"endpoint {endpoint_id} added")
            self.servers_changed.emit()
            self._core.settings_changed.emit(self._core.settings)

        self._core.then(
            self.service.endpoints.add(endpoint_id, kind, url, api_key), added, "adding the endpoint"
        )
        return []

    def edit_endpoint(
        self, endpoint_id: str, kind: str, url: str, api_key: str | None, enabled: bool = True
    ) -> Problems:
        """Check and change an endpoint (`api_key` None keeps the stored key, "" forgets it)."""
        service = self.service
        if service is None:
            return NOT_READY
        problems = service.endpoints.check_edit(endpoint_id, kind, url, enabled)
        if problems:
            return problems
        self._core.then(
            service.endpoints.edit(endpoint_id, kind, url, api_key, enabled),
            lambda problems: self._endpoint_done(endpoint_id, "changed", problems),
            "changing the endpoint",
        )
        return []

    def remove_endpoint(self, endpoint_id: str) -> None:
        """Stop routing to an endpoint and forget its settings entry and API key."""
        if self.service is not None:
            self._core.then(
                self.service.endpoints.remove(endpoint_id),
                lambda problems: self._endpoint_done(endpoint_id, "removed", problems),
                "removing the endpoint",
            )

    def _endpoint_done(self, endpoint_id: str, what: str, problems: Problems) -> None:
        if problems:
            reasons = "; ".join(f"{field}: {reason}" if field else reason for field, reason in problems)
            self.server_problem.emit(f"Endpoint {endpoint_id} not {what}: {reasons}")
        else:
            self._core.notice.emit("info", f"endpoint {endpoint_id} {what}")
        self.servers_changed.emit()
        self._core.settings_changed.emit(self._core.settings)

    def test_endpoint(
        self,
        kind: str,
        url: str,
        api_key: str,
        done: Callable[[EndpointCheck], None],
        endpoint_id: str = "",
    ) -> None:
        """Ask an address what answers there; with `endpoint_id` (and no `api_key`) the endpoint's
        stored key is used."""
        service = self.service
        if service is None:
            return
        endpoints = service.endpoints
        if endpoint_id and not api_key:
            self._core.then(endpoints.test_configured(endpoint_id, kind, url), done, "testing the connection")
        else:
            self._core.then(endpoints.test(kind, url, api_key), done, "testing the connection")
