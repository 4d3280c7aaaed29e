"""What the manual approval gate does with an order about to be sent. Pure.

An entry that needs the owner's approval (``[approval] required``) is stored as an intent with a pending
approval. Until it is approved it is not sent: it waits (PLANNED), and once its approval has expired it is
abandoned; a rejected one is abandoned. An approved one goes through the gateway like any other order, inside
its own window: approving never sends anything by itself, so no order can be sent twice by an approval.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from autotrader.domain.models import Approval

Gate = Literal["send", "wait", "abandon"]


def approval_gate(approval: Approval | None, now: datetime) -> tuple[Gate, str]:
    if approval is None or approval.status == "approved":
        return "send", ""
    if approval.status == "rejected":
        return "abandon", f"rejected by the owner{': ' + approval.reason if approval.reason else ''}"
    if approval.status == "expired" or now >= approval.expires_at:
        return "abandon", f"not approved by {approval.expires_at:%Y-%m-%d %H:%M} UTC: approval expired"
    return "wait", (
        f"awaiting approval until {approval.expires_at:%Y-%m-%d %H:%M} UTC: "
        f"`autotrader approve {approval.client_order_id}`"
    )
