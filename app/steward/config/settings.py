"""`Settings`: everything the user can configure, as one validated, immutable pydantic model.

The engine groups mirror `steward.engine.settings.EngineSettings` (same names, defaults and
grouping); the rest configures the application around it. Secrets are never part of this
model: endpoints name a keyring entry (`api_key_ref`), the key itself lives in `SecretStore`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from steward.config.app_groups import (
    DiscoveryConfig,
    EmbeddedConfig,
    EndpointConfig,
    LoggingConfig,
    RetentionConfig,
    RoutingConfig,
    ServerProfileConfig,
    UiConfig,
)
from steward.config.base import SettingsGroup
from steward.config.engine_groups import (
    BreakerConfig,
    BulkheadConfig,
    ContextConfig,
    DegenerateConfig,
    HealthConfig,
    HedgeConfig,
    RetryConfig,
    TimeoutsConfig,
    WeightsConfig,
)
from steward.config.gateway_group import GatewayConfig
from steward.config.lab_groups import SloConfig
from steward.engine.settings import EngineSettings, Strategy

SCHEMA_VERSION = 1
"""The settings file layout this code reads and writes; bump it together with a migration."""

_UNSET: object = object()


class Settings(SettingsGroup):
    """All user settings. Build with `validate_settings`, change with `with_changes`."""

    schema_version: Annotated[int, Field(ge=1)] = SCHEMA_VERSION
    strategy: Annotated[Strategy, Field(strict=False)] = EngineSettings().strategy
    # Engine groups (mapped onto EngineSettings by steward.config.engine_map).
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    hedge: HedgeConfig = Field(default_factory=HedgeConfig)
    weights: WeightsConfig = Field(default_factory=WeightsConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    bulkhead: BulkheadConfig = Field(default_factory=BulkheadConfig)
    context: ContextConfig = Field(default_factory=ContextConfig)
    degenerate: DegenerateConfig = Field(default_factory=DegenerateConfig)
    # Application groups.
    endpoints: list[EndpointConfig] = Field(default_factory=list)
    servers: list[ServerProfileConfig] = Field(default_factory=list)
    embedded: EmbeddedConfig = Field(default_factory=EmbeddedConfig)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    slo: SloConfig = Field(default_factory=SloConfig)

    # Endpoint ids and managed profile names share one namespace: both are the server part of
    # "server/model" keys, so a clash would make breakers and charts ambiguous. The checks sit on
    # the two lists (not on the whole model) so a clash is pinned to the list holding the
    # duplicate, and partial recovery can drop just that entry. Messages name the id, not an
    # index: recovery may have renumbered the list by then.

    @field_validator("endpoints")
    @classmethod
    def _unique_endpoint_ids(cls, value: list[EndpointConfig]) -> list[EndpointConfig]:
        seen: set[str] = set()
        for endpoint in value:
            if endpoint.id in seen:
                raise ValueError(f"endpoint id {endpoint.id!r} is used more than once (ids must be unique)")
            seen.add(endpoint.id)
        return value

    @field_validator("servers")
    @classmethod
    def _unique_profile_names(
        cls, value: list[ServerProfileConfig], info: ValidationInfo
    ) -> list[ServerProfileConfig]:
        endpoints: list[EndpointConfig] = info.data.get("endpoints") or []  # absent if invalid
        endpoint_ids = {e.id for e in endpoints}
        seen: set[str] = set()
        for profile in value:
            if profile.name in endpoint_ids:
                raise ValueError(
                    f"server name {profile.name!r} is already used by an endpoint (ids must be unique)"
                )
            if profile.name in seen:
                raise ValueError(f"server name {profile.name!r} is used more than once (ids must be unique)")
            seen.add(profile.name)
        return value

    def with_changes(self, changes: str | Mapping[str, object], value: object = _UNSET) -> Settings:
        """A new validated Settings with `changes` applied.

        `changes` is a dotted path and `value` (`s.with_changes("breaker.failure_threshold", 5)`) or a
        mapping of paths to values. Raises `SettingsError` naming the offending field.
        """
        from steward.config.patch import apply_patch  # patch builds on this module

        if isinstance(changes, str):
            if value is _UNSET:
                raise TypeError("with_changes(path, value): a value is required with a path")
            return apply_patch(self, {changes: value})
        if value is not _UNSET:
            raise TypeError("with_changes(mapping): no separate value is taken with a mapping")
        return apply_patch(self, changes)
