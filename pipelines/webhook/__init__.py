"""The klink webhook receiver: signed events over HTTP -> fsync'd spool -> dlt, into the sync's tables.

Run it with `klink webhook serve` or `python -m pipelines.webhook serve`; see docs/webhooks.md.
"""

from .auth import Authenticator, sign
from .server import Receiver, ReceiverSettings

__all__ = ["Authenticator", "Receiver", "ReceiverSettings", "sign"]
