"""The runtime: the services the App gets injected (:class:`Services`) and the one
function that builds and wires them (:func:`build_services`)."""

from services.runtime.build import build_services
from services.runtime.services import AccountConfig, Services

__all__ = ["AccountConfig", "Services", "build_services"]
