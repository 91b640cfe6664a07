"""Registry hub: the integration core between the registry and the systems documents reach.

What plugin authors may import is re-exported here; everything else is internal.
"""

from hub.connectors import Connector, ConnectorSettings, HealthCheck
from hub.errors import (
    AmbiguousError,
    ConfigurationError,
    DeliveryError,
    HubError,
    InputError,
    PermanentError,
    TransientError,
    classify_http_status,
)
from hub.hookspecs import hookimpl
from hub.http import make_client
from hub.models import (
    AttachmentRef,
    Channel,
    DeliveryState,
    Document,
    DocumentIn,
    Job,
    Receipt,
    Sender,
)
from hub.retry import RetryPolicy
from hub.routing import Destination
from hub.sources import PollResult, Source, SourceSettings

__version__ = "0.1.0"

__all__ = [
    "AmbiguousError",
    "AttachmentRef",
    "Channel",
    "ConfigurationError",
    "Connector",
    "ConnectorSettings",
    "DeliveryError",
    "DeliveryState",
    "Destination",
    "Document",
    "DocumentIn",
    "HealthCheck",
    "HubError",
    "InputError",
    "Job",
    "PermanentError",
    "PollResult",
    "Receipt",
    "RetryPolicy",
    "Sender",
    "Source",
    "SourceSettings",
    "TransientError",
    "__version__",
    "classify_http_status",
    "hookimpl",
    "make_client",
]
