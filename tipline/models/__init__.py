"""Database models, split by aggregate. Only routing metadata is stored in clear.

Everything a tipster wrote or sent, exact times and staff notes live in ``SealedItem``
rows as HPKE ciphertexts; see DESIGN.md "What is stored in clear".
"""

from tipline.models.audit import AuditEntry
from tipline.models.base import Base
from tipline.models.outbox import OutboxEntry
from tipline.models.sms import ReplyHandle
from tipline.models.staff import Membership, Staff
from tipline.models.stats import StatsRelease, StatsReleaseTable, StatsRollup
from tipline.models.tip import SealedItem, Tip, TipKeyGrant, TipLink, TipTag, TipUnit
from tipline.models.unit import Unit, UnitKey

__all__ = [
    "AuditEntry",
    "Base",
    "Membership",
    "OutboxEntry",
    "ReplyHandle",
    "SealedItem",
    "Staff",
    "StatsRelease",
    "StatsReleaseTable",
    "StatsRollup",
    "Tip",
    "TipKeyGrant",
    "TipLink",
    "TipTag",
    "TipUnit",
    "Unit",
    "UnitKey",
]
