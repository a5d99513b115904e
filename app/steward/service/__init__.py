"""The application service: every user action, Qt-free and typed (see `service.StewardService`)."""

from steward.service.endpoints import EndpointCheck
from steward.service.service import Applied, NotReady, Problems, StewardService

__all__ = ["Applied", "EndpointCheck", "NotReady", "Problems", "StewardService"]
