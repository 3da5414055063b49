"""Realistic Pydantic v2 event models for the importer's round trip (tests/importer/test_roundtrip.py):
agents, tasks, payments, orders, IoT, users, logistics, billing. ``TOPICS`` gives each its topic."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NaiveDatetime
from pydantic.alias_generators import to_camel

Amount = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]


# --- shared parts -----------------------------------------------------------------------------


class Currency(enum.StrEnum):
    """ISO 4217 currency code."""

    EUR = "EUR"
    USD = "USD"
    GBP = "GBP"


class Money(BaseModel):
    """An amount in a currency."""

    amount: Amount = Field(description="The amount, to the cent.")
    currency: Currency = Field(Currency.EUR, description="The currency.")


class Actor(BaseModel):
    """Who did it."""

    actor_id: uuid.UUID = Field(description="The actor's id.")
    kind: Literal["user", "agent", "system"] = Field("user", description="What kind of actor.")


class Address(BaseModel):
    """A postal address."""

    street: str = Field(description="Street and number.")
    city: str = Field(description="City.")
    postal_code: Annotated[str, Field(max_length=12)] = Field(description="Postal code.")
    country: Annotated[str, Field(min_length=2, max_length=2)] = Field(description="ISO 3166 country code.")


class GeoPoint(BaseModel):
    """A point on Earth."""

    lat: Annotated[float, Field(ge=-90, le=90)] = Field(description="Latitude in degrees.")
    lon: Annotated[float, Field(ge=-180, le=180)] = Field(description="Longitude in degrees.")


class Priority(enum.IntEnum):
    """How urgent (Avro writes the number; the names go into the field's doc)."""

    LOW = 1
    NORMAL = 5
    HIGH = 10


class AgentStatus(enum.Enum):
    """Lifecycle status of an agent."""

    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    RETIRED = "RETIRED"


class TaskState(enum.StrEnum):
    """Where a task is."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


# --- agents -----------------------------------------------------------------------------------


class AgentCreated(BaseModel):
    """An agent was created."""

    agent_id: uuid.UUID = Field(description="The agent's id.")
    name: Annotated[str, Field(min_length=1, max_length=128)] = Field(description="Display name.")
    created_at: AwareDatetime = Field(description="When it was created.")
    created_by: Actor = Field(description="Who created it.")
    status: AgentStatus = Field(AgentStatus.ACTIVE, description="Its status.")
    tags: list[str] = Field(default_factory=list, description="Free tags.")
    labels: dict[str, str] = Field(default_factory=dict, description="Key-value labels.")


class AgentUpdated(BaseModel):
    """An agent's definition changed."""

    agent_id: uuid.UUID = Field(description="The agent's id.")
    version: Annotated[int, Field(ge=1)] = Field(description="The new version.")
    name: str | None = Field(None, description="The new name, if it changed.")
    status: AgentStatus | None = Field(None, description="The new status, if it changed.")
    updated_at: AwareDatetime = Field(description="When.")
    updated_by: Actor = Field(description="Who changed it.")


class AgentDeleted(BaseModel):
    """An agent was deleted."""

    agent_id: uuid.UUID = Field(description="The agent's id.")
    deleted_at: AwareDatetime = Field(description="When.")
    reason: str | None = Field(None, description="Why, if given.")
    hard: bool = Field(False, description="Removed for good, not just hidden.")


class AgentHeartbeat(BaseModel):
    """An agent is alive."""

    agent_id: uuid.UUID = Field(description="The agent's id.")
    at: AwareDatetime = Field(description="When it beat.")
    load: Annotated[float, Field(ge=0.0, le=1.0)] = Field(description="Load, 0 to 1.")
    running_tasks: Annotated[int, Field(ge=0, le=10_000)] = Field(0, description="Tasks running now.")


class AgentCapabilityAdded(BaseModel):
    """An agent learned a capability."""

    agent_id: uuid.UUID = Field(description="The agent's id.")
    capability: str = Field(description="The capability's name.")
    params: dict[str, int | str | bool] = Field(default_factory=dict, description="Its parameters.")
    added_at: AwareDatetime = Field(description="When.")


# --- tasks ------------------------------------------------------------------------------------


class Subtask(BaseModel):
    """One step of a task; steps nest."""

    name: str = Field(description="The step's name.")
    state: TaskState = Field(TaskState.queued, description="Where it is.")
    children: list[Subtask] = Field(default_factory=list, description="Its own steps.")


class TaskCreated(BaseModel):
    """A task was submitted."""

    task_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="The task's id (new by default).")
    title: str = Field(description="What to do.")
    priority: Priority = Field(Priority.NORMAL, description="How urgent.")
    due: dt.date | None = Field(None, description="When it is due, if ever.")
    plan: list[Subtask] = Field(default_factory=list, description="The planned steps.")
    submitted_by: Actor = Field(description="Who submitted it.")


class TaskAssigned(BaseModel):
    """A task was given to an agent."""

    task_id: uuid.UUID = Field(description="The task.")
    agent_id: uuid.UUID = Field(description="The agent.")
    assigned_at: AwareDatetime = Field(description="When.")
    attempt: Annotated[int, Field(ge=1, le=100)] = Field(1, description="Which attempt.")


class TaskStarted(BaseModel):
    """An agent started a task."""

    task_id: uuid.UUID = Field(description="The task.")
    agent_id: uuid.UUID = Field(description="The agent.")
    started_at: AwareDatetime = Field(description="When.")
    state: Literal[TaskState.running] = Field(TaskState.running, description="Always running.")


class TaskProgressed(BaseModel):
    """A task made progress."""

    task_id: uuid.UUID = Field(description="The task.")
    percent: Annotated[int, Field(ge=0, le=100)] = Field(description="Percent done.")
    message: str | None = Field(None, description="What it is doing.")
    at: AwareDatetime = Field(description="When.")


class TaskCompleted(BaseModel):
    """A task completed."""

    task_id: uuid.UUID = Field(description="The task.")
    completed_at: AwareDatetime = Field(description="When.")
    outcome: list[Subtask] = Field(description="Every step and how it ended.")
    output: bytes | None = Field(None, description="The result blob, if any.")
    cost: Money | None = Field(None, description="What it cost, if metered.")


class TaskFailed(BaseModel):
    """A task failed."""

    task_id: uuid.UUID = Field(description="The task.")
    failed_at: AwareDatetime = Field(description="When.")
    error_code: Literal["timeout", "crash", "refused"] = Field(description="What went wrong.")
    detail: str = Field("", description="The error message.")
    retryable: bool = Field(True, description="Whether a retry may help.")
    attempts: Annotated[int, Field(ge=0, le=1000)] = Field(description="Attempts made.")


# --- payments ---------------------------------------------------------------------------------


class Card(BaseModel):
    """Paid by card."""

    last4: Annotated[str, Field(pattern=r"^[0-9]{4}$")] = Field(description="The card's last four digits.")
    network: Literal["visa", "mastercard", "amex"] = Field(description="The card network.")


class BankTransfer(BaseModel):
    """Paid by bank transfer."""

    iban: str = Field(description="The payer's IBAN.")
    reference: str = Field(description="The transfer's reference.")


class PaymentAuthorized(BaseModel):
    """A payment was authorized."""

    payment_id: uuid.UUID = Field(description="The payment.")
    amount: Money = Field(description="How much.")
    method: Card | BankTransfer = Field(description="How it is paid.")
    authorized_at: AwareDatetime = Field(description="When.")


class PaymentCaptured(BaseModel):
    """Money was taken."""

    payment_id: uuid.UUID = Field(description="The payment.")
    captured: Money = Field(description="How much was captured.")
    fee: Money = Field(Money(amount=Decimal("0.30")), description="The processor's fee.")
    captured_at: AwareDatetime = Field(description="When.")


class PaymentRefunded(BaseModel):
    """Money was given back."""

    payment_id: uuid.UUID = Field(description="The payment.")
    refund_id: uuid.UUID = Field(description="The refund.")
    amount: Amount = Field(description="How much, in the payment's currency.")
    partial: bool = Field(description="Less than the whole payment.")
    reason: str | None = Field(None, description="Why, if given.")


class PaymentFailed(BaseModel):
    """A payment failed."""

    payment_id: uuid.UUID = Field(description="The payment.")
    decline_code: Annotated[int, Field(ge=0, le=999)] = Field(description="The processor's code.")
    message: str = Field(description="The processor's message.")
    at: AwareDatetime = Field(description="When.")


class InvoiceIssued(BaseModel):
    """An invoice was issued."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    invoice_id: uuid.UUID = Field(description="The invoice.")
    customer_id: uuid.UUID = Field(description="The customer.")
    issue_date: dt.date = Field(description="Date of issue.")
    due_date: dt.date = Field(description="Date due.")
    net_total: Amount = Field(description="Total before tax.")
    tax_rate: Annotated[Decimal, Field(max_digits=5, decimal_places=4)] = Field(description="Tax rate, 0.1900.")
    line_amounts: list[Amount] = Field(default_factory=list, description="The lines' amounts.")


# --- orders -----------------------------------------------------------------------------------


class OrderLine(BaseModel):
    """One line of an order."""

    sku: str = Field(description="The product.")
    quantity: Annotated[int, Field(ge=1, le=999)] = Field(1, description="How many.")
    unit_price: Money = Field(description="Price of one.")


class OrderPlaced(BaseModel):
    """An order was placed."""

    event_type: Literal["order.placed"] = Field("order.placed", alias="eventType", description="Event type.")
    order_id: uuid.UUID = Field(alias="orderId", description="The order.")
    placed_at: AwareDatetime = Field(alias="placedAt", description="When.")
    lines: list[OrderLine] = Field(description="What was ordered.")
    ship_to: Address = Field(alias="shipTo", description="Where it goes.")
    bill_to: Address | None = Field(None, alias="billTo", description="Billing address, if not ship_to.")
    coupon: str | None = Field(None, description="A coupon code.")


class OrderShipped(BaseModel):
    """An order left the warehouse."""

    order_id: uuid.UUID = Field(description="The order.")
    carrier: str = Field(description="Who carries it.")
    tracking: tuple[str, ...] = Field((), description="Tracking numbers, one per parcel.")
    shipped_at: AwareDatetime = Field(description="When.")
    eta: dt.date | None = Field(None, description="Expected arrival.")


class OrderCancelled(BaseModel):
    """An order was cancelled."""

    order_id: uuid.UUID = Field(description="The order.")
    by: Actor = Field(description="Who cancelled it.")
    refund: Money | None = Field(None, description="What is refunded.")
    cancelled_at: AwareDatetime = Field(description="When.")


class CartAbandoned(BaseModel):
    """A cart was left without checkout."""

    cart_id: uuid.UUID = Field(description="The cart.")
    items: dict[str, Annotated[int, Field(ge=1, le=999)]] = Field(description="Quantity by SKU.")
    value: Money = Field(description="What the cart was worth.")
    last_seen: NaiveDatetime = Field(description="The shop's local time of the last activity.")


# --- IoT --------------------------------------------------------------------------------------


class Unit(enum.Enum):
    """Unit of a reading."""

    celsius = "celsius"
    percent = "percent"
    pascal = "pascal"


class SensorReading(BaseModel):
    """A sensor measured something."""

    device_id: str = Field(description="The device.")
    at: AwareDatetime = Field(description="When.")
    value: float = Field(description="The reading.")
    unit: Unit = Field(description="Its unit.")
    location: GeoPoint | None = Field(None, description="Where, if the device moves.")


class DeviceRegistered(BaseModel):
    """A device joined the fleet."""

    device_id: str = Field(description="The device.")
    firmware: str = Field(description="Firmware version.")
    serial: bytes = Field(description="The serial number as burned in.")
    registered_on: dt.date = Field(description="Day of registration.")
    maintenance_window: dt.time = Field(dt.time(3, 0), description="Daily maintenance start, local time.")


class DeviceBatch(BaseModel):
    """Readings sent together."""

    device_id: str = Field(description="The device.")
    readings: list[SensorReading] = Field(description="The readings.")
    battery: Annotated[int, Field(ge=0, le=100)] | None = Field(None, description="Battery percent.")


class FirmwareUpdated(BaseModel):
    """A device's firmware changed."""

    device_id: str = Field(description="The device.")
    previous: str = Field(description="Old version.")
    current: str = Field(description="New version.")
    checksum: bytes = Field(b"\x00" * 4, description="CRC of the image.")
    at: dt.datetime = Field(description="When (plain datetime: written as an instant).")


class AlertRaised(BaseModel):
    """A threshold was crossed."""

    alert_id: uuid.UUID = Field(description="The alert.")
    device_id: str = Field(description="The device.")
    severity: Priority = Field(description="How bad.")
    threshold: float | int = Field(description="The threshold crossed.")
    observed: float = Field(description="The value seen.")
    context: dict[str, list[float]] = Field(default_factory=dict, description="Recent values by metric.")


# --- users and logistics -----------------------------------------------------------------------


class UserSignedUp(BaseModel):
    """A user signed up."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    user_id: uuid.UUID = Field(description="The user.")
    email: str = Field(description="Their email address.")
    display_name: str | None = Field(None, description="Their chosen name.")
    signed_up_at: AwareDatetime = Field(description="When.")
    referrer: str | None = Field(None, description="Who referred them.")
    marketing_opt_in: bool = Field(False, description="Agreed to marketing mail.")


class UserProfileChanged(BaseModel):
    """A user changed their profile."""

    user_id: uuid.UUID = Field(description="The user.")
    changes: dict[str, str | None] = Field(description="New value by field; null clears it.")
    home: Address | None = Field(None, description="New home address, if changed.")
    at: AwareDatetime = Field(description="When.")


class ParcelScanned(BaseModel):
    """A parcel was scanned at a hub."""

    parcel_id: str = Field(description="The parcel.")
    hub: str = Field(description="The hub.")
    position: GeoPoint = Field(description="Where the hub is.")
    scanned_at: AwareDatetime = Field(description="When.")
    weight_grams: Annotated[int, Field(gt=0, lt=100_000)] = Field(description="Weight on the scale.")


class RouteOptimized(BaseModel):
    """A delivery route was planned."""

    route_id: uuid.UUID = Field(description="The route.")
    stops: list[GeoPoint] = Field(description="The stops, in order.")
    distance_km: float = Field(description="Total distance.")
    planned_for: dt.date = Field(description="The day.")
    departure: dt.time = Field(description="Leaving the depot.")


class MeterRead(BaseModel):
    """A utility meter was read."""

    meter_id: str = Field(description="The meter.")
    kwh: Annotated[Decimal, Field(max_digits=14, decimal_places=3)] = Field(description="Cumulative kWh.")
    read_at: AwareDatetime = Field(description="When.")
    estimated: bool = Field(False, description="Estimated, not read.")


MODELS: list[tuple[type[BaseModel], str]] = [
    (AgentCreated, "agent.lifecycle.created"),
    (AgentUpdated, "agent.lifecycle.updated"),
    (AgentDeleted, "agent.lifecycle.deleted"),
    (AgentHeartbeat, "agent.health.heartbeat"),
    (AgentCapabilityAdded, "agent.capability.added"),
    (TaskCreated, "task.lifecycle.created"),
    (TaskAssigned, "task.lifecycle.assigned"),
    (TaskStarted, "task.execution.started"),
    (TaskProgressed, "task.execution.progressed"),
    (TaskCompleted, "task.execution.completed"),
    (TaskFailed, "task.execution.failed"),
    (PaymentAuthorized, "payment.charge.authorized"),
    (PaymentCaptured, "payment.charge.captured"),
    (PaymentRefunded, "payment.charge.refunded"),
    (PaymentFailed, "payment.charge.failed"),
    (InvoiceIssued, "billing.invoice.issued"),
    (OrderPlaced, "shop.order.placed"),
    (OrderShipped, "shop.order.shipped"),
    (OrderCancelled, "shop.order.cancelled"),
    (CartAbandoned, "shop.cart.abandoned"),
    (SensorReading, "iot.sensor.reading"),
    (DeviceRegistered, "iot.device.registered"),
    (DeviceBatch, "iot.device.batch"),
    (FirmwareUpdated, "iot.firmware.updated"),
    (AlertRaised, "iot.alert.raised"),
    (UserSignedUp, "user.account.signed_up"),
    (UserProfileChanged, "user.profile.changed"),
    (ParcelScanned, "logistics.parcel.scanned"),
    (RouteOptimized, "logistics.route.optimized"),
    (MeterRead, "utility.meter.read"),
    (Money, "billing.money.moved"),
    (Subtask, "task.step.recorded"),
]
