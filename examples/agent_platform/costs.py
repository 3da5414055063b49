"""Cost tracking: :func:`record_cost` publishes one ``cost.tracking.recorded`` event per model call.

Amounts are exact decimals (the schema stores them as Avro decimals), never floats: a cost is the
token count times the price of a million tokens, rounded to the schema's 8 decimal places.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import ROUND_HALF_EVEN, Decimal

import platform_events as pe
from schemabus.runtime import Bus

from .topics import PlatformTopics

_SCALE = Decimal("0.00000001")  # the schema's scale: 8 decimal places
_MILLION = Decimal(1_000_000)


@dataclasses.dataclass(frozen=True)
class CostEntry:
    """One model call's token usage and the prices that apply to it (per million tokens)."""

    tenant_id: str
    agent_id: uuid.UUID | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    prompt_price: Decimal
    completion_price: Decimal
    billing_date: dt.date
    token_usage_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    currency: str = "USD"


def cost_of(tokens: int, price_per_million: Decimal) -> Decimal:
    """``tokens`` at ``price_per_million``, rounded half-even to the schema's 8 decimal places."""
    return (tokens * price_per_million / _MILLION).quantize(_SCALE, rounding=ROUND_HALF_EVEN)


def cost_event(entry: CostEntry) -> pe.CostRecorded:
    """The event of one entry; ``total_cost`` is the sum of the two rounded parts, so it adds up."""
    prompt_cost = cost_of(entry.prompt_tokens, entry.prompt_price)
    completion_cost = cost_of(entry.completion_tokens, entry.completion_price)
    now = dt.datetime.now(dt.UTC)
    return pe.CostRecorded(
        token_usage_id=entry.token_usage_id,
        tenant_id=entry.tenant_id,
        agent_id=entry.agent_id,
        model=entry.model,
        prompt_tokens=entry.prompt_tokens,
        completion_tokens=entry.completion_tokens,
        prompt_unit_price=entry.prompt_price,
        completion_unit_price=entry.completion_price,
        prompt_cost=prompt_cost,
        completion_cost=completion_cost,
        total_cost=prompt_cost + completion_cost,
        currency=entry.currency,
        billing_date=entry.billing_date,
        usage_local_time=now.replace(tzinfo=None),
        timestamp=now,
    )


async def record_cost(bus: Bus, topics: PlatformTopics, entry: CostEntry) -> pe.CostRecorded:
    """Publish the cost of ``entry``, keyed by (tenant, token usage): a redelivered entry has the same key,
    so compaction keeps one copy of it."""
    event = cost_event(entry)
    key = pe.CostRecordedKey(tenant_id=entry.tenant_id, token_usage_id=str(entry.token_usage_id))
    await bus.publish(topics.cost_recorded, event, key=key)
    return event
