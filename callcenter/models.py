"""The data model: users, agents, queues and their tiers, and the CDR (Call + CallLeg).

Memory is the live truth for calls and agents' status and state, in the one active controller
process (the switchboard); the database is the durable record: users, agents, queues, CDRs, and
what a restarted or standby controller rebuilds from. Times are stored in UTC. Enumerations are
stored as short strings with a CHECK constraint, so SQLite and PostgreSQL hold the same schema.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in time, the type of every timestamp column: written in UTC and read back
    timezone-aware in UTC on both databases. SQLite keeps no zone and hands back naive values;
    PostgreSQL hands back the session's zone. A naive datetime is refused rather than guessed:
    PostgreSQL would read it in the server's zone and SQLite in none.

    The schema is DateTime(timezone=True) as before (alembic compares the `impl`)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"a timestamp must be a timezone-aware datetime, not {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # Named constraints: alembic's batch mode on SQLite needs names to alter them.
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


def _enum(cls: type[enum.Enum], name: str, length: int = 16) -> Enum:
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=length,
                values_callable=lambda members: [m.value for m in members],
                validate_strings=True)


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class AgentStatus(enum.StrEnum):
    """What the agent chose."""
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    ON_BREAK = "on_break"


class AgentState(enum.StrEnum):
    """What calls did; only the switchboard changes it."""
    IDLE = "idle"
    RESERVED = "reserved"
    RINGING = "ringing"
    IN_CALL = "in_call"
    WRAP_UP = "wrap_up"


class QueueStrategy(enum.StrEnum):
    """How a queue picks the agent for its next caller: mod_callcenter's nine strategies, under
    its names (switchboard/queues/strategies.py)."""
    RING_ALL = "ring_all"
    LONGEST_IDLE_AGENT = "longest_idle_agent"
    ROUND_ROBIN = "round_robin"
    TOP_DOWN = "top_down"
    AGENT_WITH_LEAST_TALK_TIME = "agent_with_least_talk_time"
    AGENT_WITH_FEWEST_CALLS = "agent_with_fewest_calls"
    SEQUENTIALLY_BY_AGENT_ORDER = "sequentially_by_agent_order"
    RANDOM = "random"
    RING_PROGRESSIVELY = "ring_progressively"


class TimeoutAction(enum.StrEnum):
    """What happens to a caller who waited a queue's longest wait."""
    HANG_UP = "hang_up"
    QUEUE = "queue"            # into another queue (the target), keeping the entry time
    NUMBER = "number"          # transferred to a number (the target), through the gateway
    CALLBACK = "callback"      # closed queues only: a callback request, served once it opens


class OfferOutcome(enum.StrEnum):
    """How one offer of a queued call to an agent ended."""
    ANSWERED = "answered"
    MISSED = "missed"          # rang out, or the softphone failed
    DECLINED = "declined"      # the agent pressed Decline (or the phone said busy)
    CANCELLED = "cancelled"    # the caller left (or the call went elsewhere) while it rang
    LOST_RACE = "lost_race"    # ring-all: another agent answered first


class EventKind(enum.StrEnum):
    """What an events row records (the Event model)."""
    AGENT_STATUS = "agent_status"           # the agent chose a status (or was put On break)
    AGENT_STATE = "agent_state"             # calls moved the agent to a state
    HOLD = "hold"
    UNHOLD = "unhold"
    TRANSFER = "transfer"                   # detail: to, result (started, done, failed), cause
    RECORDING_STARTED = "recording_started"
    RECORDING_STOPPED = "recording_stopped"
    MONITOR = "monitor"                     # a supervisor listens, whispers or barges
    CONSULT = "consult"                     # detail: to, result (started, swapped, completed,
                                            # cancelled, failed, three_way, left), talking_to,
                                            # cause, who (left: agent or target)


class AgentLeft(enum.StrEnum):
    """How an agent's part in a call ended (a CallAgent row)."""
    HUNG_UP = "hung_up"                     # the agent hung up (the call ended with it)
    CUSTOMER_HUNG_UP = "customer_hung_up"   # the customer hung up on the agent
    TRANSFERRED = "transferred"             # a blind transfer handed the customer on
    COMPLETED_CONSULT = "completed_consult"  # a consult handed the customer to the target
    REQUEUED = "requeued"                   # the agent sent the customer into a queue
    ENDED = "ended"                         # a supervisor or the system ended the call


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class LegRole(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SUPERVISOR = "supervisor"


class HangupBy(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"
    SUPERVISOR = "supervisor"               # a supervisor hung the call up from the dashboard


class Outcome(enum.StrEnum):
    """How a call ended, in call-center terms; separate from FreeSWITCH's hangup cause."""
    ANSWERED = "answered"                   # talked, then someone hung up
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"                       # rejected or failed, with a cause
    CANCELLED = "cancelled"                 # the agent hung up before the customer answered
    AGENT_NO_ANSWER = "agent_no_answer"     # the agent's softphone did not pick up
    AGENT_NOT_REGISTERED = "agent_not_registered"
    CUT_OFF = "cut_off"                     # the switch was lost mid-call (it restarted)
    ABANDONED = "abandoned"                 # the caller hung up while waiting in a queue
    TIMED_OUT = "timed_out"                 # the queue's longest wait passed: hung up
    OVERFLOWED = "overflowed"               # the longest wait passed: sent to a queue/number
    CLOSED = "closed"                       # called outside the queue's open hours: hung up
    CALLBACK_REQUESTED = "callback_requested"  # left with a callback request (queues/callbacks.py)


class CallbackState(enum.StrEnum):
    """Where a callback request is (switchboard/queues/callbacks.py)."""
    WAITING = "waiting"        # in its queue's line at the caller's place (or its retry delay)
    OFFERED = "offered"        # an agent's phone rings with it
    DIALING = "dialing"        # the agent took it: the customer's number is being dialled
    DONE = "done"              # the customer answered
    FAILED = "failed"          # every attempt went unanswered, busy or failed
    CANCELLED = "cancelled"    # a supervisor cancelled it


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # A supervisor's (or an admin's) own softphone, for listening in; an agent's extension is
    # its Agent row's. Having one never makes the user an agent (no offers, no agent figures).
    extension: Mapped[str | None] = mapped_column(String(16), unique=True)
    # What an admin's form showed (users, agents and queues alike): SQLAlchemy adds 1 at each
    # ORM update and writes only `WHERE version = <the one read>`, so of two admins saving at
    # once one is refused (accounts.check_version compares the form's). The switchboard's own
    # writes (an agent's status, state, registration) are Core UPDATEs through its store: they
    # leave the version alone, so an agent taking calls can still be edited.
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    agent: Mapped[Agent | None] = relationship(back_populates="user", uselist=False)
    login_sessions: Mapped[list[LoginSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True)

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role.value}>"


class Agent(Base):
    """An agent's durable record. While the controller runs, its roster (switchboard/agents.py)
    holds the live status, state and registration and writes each change here; a restarted
    controller starts from these rows."""
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    extension: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[AgentStatus] = mapped_column(_enum(AgentStatus, "agent_status"),
                                                default=AgentStatus.LOGGED_OUT)
    state: Mapped[AgentState] = mapped_column(_enum(AgentState, "agent_state"),
                                              default=AgentState.IDLE)
    status_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    state_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    wrapup_seconds: Mapped[int] = mapped_column(Integer, default=10)
    max_no_answer: Mapped[int] = mapped_column(Integer, default=3)
    no_answer_count: Mapped[int] = mapped_column(Integer, default=0)
    always_record: Mapped[bool] = mapped_column(Boolean, default=False)
    # Queued calls: seconds before the next offer after a decline, a busy phone or a missed
    # offer; whether the softphone answers an offer by itself; why the agent is On break
    # ("missed calls" when the switchboard put it there).
    reject_delay_seconds: Mapped[int] = mapped_column(Integer, default=10)
    busy_delay_seconds: Mapped[int] = mapped_column(Integer, default=30)
    no_answer_delay_seconds: Mapped[int] = mapped_column(Integer, default=10)
    auto_answer: Mapped[bool] = mapped_column(Boolean, default=True)
    break_reason: Mapped[str | None] = mapped_column(String(64))
    last_call_ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, server_default="1")   # see User.version

    user: Mapped[User] = relationship(back_populates="agent")
    tiers: Mapped[list[QueueAgent]] = relationship(back_populates="agent",
                                                   cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}


# A soft two-tone pattern, looped: the shipped configuration has no music files, and
# local_stream://moh without them ends at once (so the caller would hear silence).
DEFAULT_HOLD_MUSIC = "tone_stream://%(400,200,523,659);%(400,3000,587,698);loops=-1"


class Queue(Base):
    """An inbound queue (switchboard/queues/). The README's Queues section explains each
    setting; 0 seconds means "never" for the waits."""
    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    strategy: Mapped[QueueStrategy] = mapped_column(
        _enum(QueueStrategy, "queue_strategy", length=32),
        default=QueueStrategy.LONGEST_IDLE_AGENT)
    hold_music: Mapped[str] = mapped_column(String(255), default=DEFAULT_HOLD_MUSIC)
    max_wait_seconds: Mapped[int] = mapped_column(Integer, default=300)
    max_wait_no_agent_seconds: Mapped[int] = mapped_column(Integer, default=0)
    timeout_action: Mapped[TimeoutAction] = mapped_column(
        _enum(TimeoutAction, "timeout_action"), default=TimeoutAction.HANG_UP)
    timeout_target: Mapped[str] = mapped_column(String(64), default="")
    service_level_seconds: Mapped[int] = mapped_column(Integer, default=20)
    priority: Mapped[int] = mapped_column(Integer, default=0)   # higher is served first
    answer_on_entry: Mapped[bool] = mapped_column(Boolean, default=True)
    agent_ring_seconds: Mapped[int] = mapped_column(Integer, default=20)
    wrapup_seconds: Mapped[int | None] = mapped_column(Integer)  # the agent's own when NULL
    # Tier rules: wait this long on a level before the next one joins (0: all levels at
    # once), multiplied by the level if asked; a level with no available agent is not waited on
    # unless tier_wait_empty.
    tier_wait_seconds: Mapped[int] = mapped_column(Integer, default=0)
    tier_wait_multiply: Mapped[bool] = mapped_column(Boolean, default=False)
    tier_wait_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(String(255), default="")
    # Open hours in their compact text forms (switchboard/queues/hours.py reads and prints
    # them): empty open_hours is open every day that is not a holiday.
    open_hours: Mapped[str] = mapped_column(String(500), default="")
    holidays: Mapped[str] = mapped_column(String(500), default="")
    # A caller arriving while the queue is closed: hung up (after closed_message, if any), or
    # sent to another queue or a number (closed_target).
    closed_action: Mapped[TimeoutAction] = mapped_column(
        _enum(TimeoutAction, "closed_action"), default=TimeoutAction.HANG_UP)
    closed_target: Mapped[str] = mapped_column(String(64), default="")
    closed_message: Mapped[str] = mapped_column(String(255), default="")
    # Callbacks (switchboard/queues/callbacks.py): the DTMF key a waiting caller presses to be
    # called back ("" for none: off), how many more times an unreachable callback is tried and
    # after how long, and what the caller hears ("" for silence).
    callback_key: Mapped[str] = mapped_column(String(1), default="")
    callback_retries: Mapped[int] = mapped_column(Integer, default=2)
    callback_retry_delay_seconds: Mapped[int] = mapped_column(Integer, default=300)
    callback_confirm_message: Mapped[str] = mapped_column(String(255), default="")
    callback_unavailable_message: Mapped[str] = mapped_column(String(255), default="")
    # Announcements (switchboard/queues/announcer.py): a greeting before the hold music, a
    # message every announce_seconds (0: never), and every position_seconds (0: never) the
    # caller's place in line and/or its estimated wait.
    greeting: Mapped[str] = mapped_column(String(255), default="")
    announcement: Mapped[str] = mapped_column(String(255), default="")
    announce_seconds: Mapped[int] = mapped_column(Integer, default=0)
    announce_position: Mapped[bool] = mapped_column(Boolean, default=False)
    announce_wait: Mapped[bool] = mapped_column(Boolean, default=False)
    position_seconds: Mapped[int] = mapped_column(Integer, default=60)
    version: Mapped[int] = mapped_column(Integer, server_default="1")   # see User.version

    tiers: Mapped[list[QueueAgent]] = relationship(back_populates="queue",
                                                   cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}


class InboundNumber(Base):
    """A number of ours the carrier sends calls to (a DID), and the queue it reaches. `number`
    is digits only: a leading '+' is dropped on the way in, and the dialplan matches the
    number with or without it (as the static dids.xml's `^\\+?5550100$`), so "+5550100" and
    "5550100" are one number. `version` counts changes: an edit made on an older version is
    refused (callcenter/numbers.py). A queue with numbers cannot be deleted (no cascade)."""
    __tablename__ = "inbound_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="RESTRICT"),
                                          index=True)
    label: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer)

    queue: Mapped[Queue] = relationship()

    # SQLAlchemy counts the versions: every UPDATE and DELETE names the version it read.
    __mapper_args__ = {"version_id_col": version}


class Disposition(Base):
    """An outcome agents may file for a call (switchboard/disposition.py): `code` is what the
    call record keeps (Call.disposition), `label` what the agent reads. Global when `queue_id`
    is NULL, else only for that queue's calls. `version` grows with each change: an edit made
    from an older copy is refused (the mapper checks it in the UPDATE itself)."""
    __tablename__ = "dispositions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(128))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    requires_notes: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)   # order within its list
    version: Mapped[int] = mapped_column(Integer, default=1)

    queue: Mapped[Queue | None] = relationship()

    __table_args__ = (UniqueConstraint("queue_id", "code"),)
    __mapper_args__ = {"version_id_col": version}


class Widget(Base):
    """A website's "Call us" button (callcenter/widgets/): the script tag names it by
    `public_id` (random, never the row id); its calls enter `queue`. `allowed_origins` holds one
    origin a line (https://shop.example.com), `fields` a JSON list of the pre-call fields asked
    ([{"name": "email", "label": "Your email", "required": true}]). Limits: new calls per client
    address per hour, calls at once, and seconds a call may last."""
    __tablename__ = "widgets"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="RESTRICT"),
                                          index=True)
    allowed_origins: Mapped[str] = mapped_column(Text, default="")
    video: Mapped[bool] = mapped_column(Boolean, default=False)
    fields: Mapped[str] = mapped_column(Text, default="[]")
    calls_per_address_hour: Mapped[int] = mapped_column(Integer, default=10)
    concurrent_calls: Mapped[int] = mapped_column(Integer, default=10)
    max_call_seconds: Mapped[int] = mapped_column(Integer, default=1800)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    queue: Mapped[Queue] = relationship()

    __mapper_args__ = {"version_id_col": version}


class GuestCall(Base):
    """A visitor's one-call SIP credential (callcenter/widgets/credentials.py), and what the
    visitor told us before the call. `token` names the call to the visitor's page (its status
    URL) and to the switchboard (the cc_guest channel variable); `guest_user` is the SIP user
    (g + 20 hex), `a1_hash` all FreeSWITCH needs to check its digest. The first directory
    lookup for an INVITE uses it (`used_at`, `sip_call_id`); only the same SIP call may look it
    up again (a stale nonce's second challenge)."""
    __tablename__ = "guest_calls"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    guest_user: Mapped[str] = mapped_column(String(21), unique=True)
    a1_hash: Mapped[str] = mapped_column(String(32))
    widget_id: Mapped[int] = mapped_column(ForeignKey("widgets.id", ondelete="CASCADE"),
                                           index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sip_call_id: Mapped[str | None] = mapped_column(String(255))
    # The CDR's, once it is queued (indexed: a restart's rebuild finds the visitor by it).
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    client_address: Mapped[str] = mapped_column(String(64), default="")
    video: Mapped[bool] = mapped_column(Boolean, default=False)
    fields: Mapped[str] = mapped_column(Text, default="{}")
    page_url: Mapped[str] = mapped_column(String(1024), default="")
    page_title: Mapped[str] = mapped_column(String(255), default="")

    widget: Mapped[Widget] = relationship()


class QueueAgent(Base):
    """An agent's tier in a queue: lower levels are offered calls first, then by position."""
    __tablename__ = "queue_agents"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"),
                                          primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"),
                                          primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    position: Mapped[int] = mapped_column(Integer, default=1)

    queue: Mapped[Queue] = relationship(back_populates="tiers")
    agent: Mapped[Agent] = relationship(back_populates="tiers")


# How a customer came: the channel on a call's record (calls.channel).
PHONE, WEB = "phone", "web"
CHANNELS = (PHONE, WEB)


class Call(Base):
    """The CDR: one customer interaction, keyed by the cc_call_id the controller gives it."""
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    direction: Mapped[Direction] = mapped_column(_enum(Direction, "direction"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    customer_number: Mapped[str] = mapped_column(String(32), default="")
    caller_id: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ringing_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    bridged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ring_seconds: Mapped[int] = mapped_column(Integer, default=0)
    talk_seconds: Mapped[int] = mapped_column(Integer, default=0)
    hold_seconds: Mapped[int] = mapped_column(Integer, default=0)
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    hangup_by: Mapped[HangupBy | None] = mapped_column(_enum(HangupBy, "hangup_by"))
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, "outcome", length=24))
    sip_status: Mapped[int | None] = mapped_column(Integer)     # FreeSWITCH's sip_term_status
    sip_reason: Mapped[str | None] = mapped_column(String(64))  # its reason phrase, if any
    disposition: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    # Queued calls: when the caller entered the queue, when an agent answered (speed of answer
    # is connected_at - entered_at; the caller's own answered_at is its answer on entry), when
    # it left the queue (to an agent, or abandoned / timed out), and the seconds it waited.
    entered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    wait_seconds: Mapped[int | None] = mapped_column(Integer)
    recording_path: Mapped[str | None] = mapped_column(String(512))
    # How the customer reached us (CHANNELS): a DID or a number we dialled, or a visitor's call
    # from a website's widget (callcenter/widgets/).
    channel: Mapped[str] = mapped_column(String(8), default=PHONE, server_default=PHONE)

    agent: Mapped[Agent | None] = relationship()
    queue: Mapped[Queue | None] = relationship()
    legs: Mapped[list[CallLeg]] = relationship(back_populates="call",
                                               cascade="all, delete-orphan")
    # Every agent who handled the call, in the order they joined it.
    handlers: Mapped[list[CallAgent]] = relationship(
        order_by="CallAgent.joined_at", cascade="all, delete-orphan", passive_deletes=True)

    # Call records' search (callcenter/records/search.py), newest first by (created_at, id):
    # by time, and by agent, queue, disposition or number prefix within a time range. A number
    # "contains" search reads a trigram index: on SQLite the FTS5 table `calls_numbers`, made
    # and kept in step by migration 0020 (triggers), on PostgreSQL pg_trgm's GIN index below.
    __table_args__ = (
        Index("ix_calls_created_at", "created_at", "id"),
        Index("ix_calls_agent_created", "agent_id", "created_at", "id"),
        Index("ix_calls_queue_created", "queue_id", "created_at", "id"),
        Index("ix_calls_customer_created", "customer_number", "created_at"),
        Index("ix_calls_disposition_created", "disposition", "created_at", "id"),
        Index("ix_calls_talk", "talk_seconds"),     # long (or short) calls
        # A short pending list (migration 0023): each "contains" search reads it through.
        Index("ix_calls_number_trigram", "customer_number", postgresql_using="gin",
              postgresql_ops={"customer_number": "gin_trgm_ops"},
              postgresql_with={"gin_pending_list_limit": 256}).ddl_if(dialect="postgresql"),
        # LIKE '123%' on PostgreSQL: its default collation's btree cannot serve a prefix.
        Index("ix_calls_number_prefix", "customer_number", postgresql_ops={
            "customer_number": "varchar_pattern_ops"}).ddl_if(dialect="postgresql"),
        # Today's figures: the day's queued calls read from the index alone.
        Index("ix_calls_entered", "entered_at", "queue_id", "left_at", "connected_at",
              "ended_at", "outcome", "talk_seconds", "id"),
    )


class CallLeg(Base):
    """One FreeSWITCH channel, keyed by its UUID (ours for originated legs, FreeSWITCH's for an
    inbound caller). A resync maps `show channels` rows back to calls through these rows."""
    __tablename__ = "call_legs"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    role: Mapped[LegRole] = mapped_column(_enum(LegRole, "leg_role"))
    channel_name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    hangup_cause: Mapped[str | None] = mapped_column(String(64))

    call: Mapped[Call] = relationship(back_populates="legs")


class LegCdr(Base):
    """A leg's raw CDR: FreeSWITCH's JSON document (or one built from the hangup event),
    zlib-compressed (about 3 KB of JSON becomes about 1 KB), in a table of its own so searches
    and summaries of calls never read it. Written by the CDR writer (cdr/write.py), read through
    `cdr.documents.raw_cdr` when a call's page asks."""
    __tablename__ = "leg_cdrs"

    # No foreign key to call_legs: SQLite's batch migrations rebuild call_legs by dropping it,
    # which would cascade here. The call's key goes with its legs alike.
    leg_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    document: Mapped[bytes] = mapped_column(LargeBinary)


class CallAgent(Base):
    """One agent's part in a call: an agent leg that talked to the customer, from the moment
    they were connected until the leg left. A transferred or consulted call has one row per
    agent who handled it, so each one's talk, hold and wrap-up count for that agent. Keyed by
    the agent leg's UUID (a replayed write is idempotent)."""
    __tablename__ = "call_agents"

    leg_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    talk_seconds: Mapped[float | None] = mapped_column(Float)    # joined to left, hold included
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)  # while this agent held it
    wrapup_seconds: Mapped[float | None] = mapped_column(Float)  # left until wrap-up was over
    left_how: Mapped[AgentLeft | None] = mapped_column(_enum(AgentLeft, "agent_left", length=24))

    # Today's figures read each agent's share from here; the records search an agent's calls.
    __table_args__ = (Index("ix_call_agents_agent_joined", "agent_id", "joined_at"),
                      Index("ix_call_agents_agent_call", "agent_id", "call_id"))


class CallHandler(Base):
    """An agent who handled a call: its agent of record, or an agent with a part in it
    (call_agents), once per pair, with the call's created_at. Kept by database triggers on
    calls and call_agents (migration 0023), never written by the application: the records
    search reads "an agent's calls, newest first" as one walk of ix_call_handlers_agent_created
    that stops after a page (records/search.py, `handled_by`)."""
    __tablename__ = "call_handlers"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"),
                                          primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)   # the call's

    __table_args__ = (Index("ix_call_handlers_agent_created", "agent_id", "created_at",
                            "call_id"),)


class Recording(Base):
    """One recording of a call: a file FreeSWITCH wrote, from its RECORD_START to its
    RECORD_STOP (switchboard/recording.py). A call has one per start: after a stop, or on the
    new agent leg after a transfer, another file begins. `path` is where FreeSWITCH wrote it
    (under CALLCENTER_RECORDINGS_DIR); the store's replayed writes find the row by it."""
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    leg_uuid: Mapped[str | None] = mapped_column(String(36))   # the leg recorded
    path: Mapped[str] = mapped_column(String(512), unique=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)   # None: still recording
    seconds: Mapped[float | None] = mapped_column(Float)       # FreeSWITCH's record_ms
    bytes: Mapped[int | None] = mapped_column(BigInteger)      # the file's size once stopped

    # Retention walks the oldest first.
    __table_args__ = (Index("ix_recordings_started_at", "started_at"),)


class Offer(Base):
    """One offer of a queued call to an agent, keyed by the agent leg's UUID (chosen by the
    controller before the originate, so a replayed write is idempotent)."""
    __tablename__ = "offers"

    leg_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    offered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[OfferOutcome | None] = mapped_column(_enum(OfferOutcome, "offer_outcome"))

    __table_args__ = (Index("ix_offers_agent_offered", "agent_id", "offered_at"),
                      # today's figures count a day's offers per agent from it alone
                      Index("ix_offers_offered_at", "offered_at", "agent_id", "outcome"))


class Callback(Base):
    """A caller's request to be called back, keeping its place in its queue's line (its entry
    time) until an agent takes it; keyed by an id the controller chooses (records.py writes
    are replayable)."""
    __tablename__ = "callbacks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    number: Mapped[str] = mapped_column(String(32))
    caller_name: Mapped[str] = mapped_column(String(64), default="")
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime)     # the original wait's start
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[CallbackState] = mapped_column(_enum(CallbackState, "callback_state"),
                                                 default=CallbackState.WAITING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)      # customer dials so far
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_result: Mapped[str | None] = mapped_column(String(32))    # an Outcome value, ...
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    callback_call_id: Mapped[str | None] = mapped_column(      # the last attempt's call (CDR)
        ForeignKey("calls.id", ondelete="SET NULL"))
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_callbacks_state", "state"),
                      Index("ix_callbacks_requested_at", "requested_at"))


class UnmatchedLeg(Base):
    """A CDR FreeSWITCH sent for a leg no call owns (the controller neither originated nor
    claimed it): kept for an operator to audit, and it changed nothing. The first document of a
    leg is kept; what it names as its call is only what the document says."""
    __tablename__ = "unmatched_legs"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    named_call_id: Mapped[str | None] = mapped_column(String(64))  # its cc_call_id, if any
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow,
                                                  index=True)
    source: Mapped[str] = mapped_column(String(16))  # post, spool or import
    raw_cdr: Mapped[str] = mapped_column(Text)


class SipCredential(Base):
    """One login's SIP password for an agent's extension, or for a supervisor's own (a user's
    extension: `user_id` and `live_user_id` instead of the agent's columns); mod_xml_curl's
    directory serves it.

    Only FreeSWITCH's `a1_hash` (md5 of extension:domain:password) is kept; the password is
    derived from `login_key` and the server's secret key (callcenter.credentials), so neither
    the database nor the session cookie holds it. `live_agent_id` is the agent's id while the
    credential may be used and NULL once revoked: its unique constraint lets an agent hold one
    live credential at a time, so every login of the agent (a second tab) shares it.
    """
    __tablename__ = "sip_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"),
                                                 index=True)
    live_agent_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                                index=True)
    live_user_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    login_key: Mapped[str] = mapped_column(String(64), unique=True)
    extension: Mapped[str] = mapped_column(String(16))
    domain: Mapped[str] = mapped_column(String(255))
    a1_hash: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_why: Mapped[str | None] = mapped_column(String(32))

    agent: Mapped[Agent | None] = relationship()


class LoginSession(Base):
    """One web login, kept on the server so that it can end (callcenter.sessions).

    The session cookie carries a random token; `id` is its SHA-256, so the table alone cannot be
    used to sign in. A request is let in only while its row exists, `expires_at` (the absolute
    lifetime) is ahead and `last_seen_at` is within the idle timeout.
    """
    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")

    user: Mapped[User] = relationship(back_populates="login_sessions")


class DisplayToken(Base):
    """A wall display's long-lived, read-only token (callcenter.displays). Only its SHA-256 is
    kept: the token itself is shown once, when an admin creates it. A revoked token stays, with
    when it was revoked, so the list says what each display was."""
    __tablename__ = "display_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")   # a username, or "cli"
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Event(Base):
    """Something that happened to an agent or a call, with its time: every agent status and
    state change, and the call events the switchboard knows (hold, transfer, recording). Written
    by the switchboard through its one writer; read for today's figures and a call's story.

    `detail` is short JSON: {"status": "on_break", "reason": "missed calls"}, {"state":
    "wrap_up"}, {"to": "1002", "result": "done"}. An agent event's `call_id` is the call the
    change concerns (the agent's call after it, else the one before: a wrap-up's end names the
    call wrapped up). Agent events also say what the change ended: the agent's status and state
    before it and how long that lasted (`prior_*`), so a day's time in each status and state is
    a sum over rows rather than a walk from each event to the next.

    No foreign keys: an event is history and outlives the rows it names, and the switchboard's
    writer must never have a batch refused because an agent was deleted meanwhile. The writer
    chooses `id` (`event_id`: its millisecond, then a counter), so a write replayed from its
    spool after a crash inserts nothing twice, and ids follow time: a day is a range of ids, and
    on SQLite (where the id is the rowid) the rows of a day lie together.
    """
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"),
                                    primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, "event_kind", length=24))
    agent_id: Mapped[int | None] = mapped_column(Integer)
    call_id: Mapped[str | None] = mapped_column(String(64))
    queue_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prior_status: Mapped[AgentStatus | None] = mapped_column(
        _enum(AgentStatus, "event_prior_status"))
    prior_state: Mapped[AgentState | None] = mapped_column(
        _enum(AgentState, "event_prior_state"))
    prior_seconds: Mapped[float | None] = mapped_column(Float)

    # Today for this agent, this call's story, everything in a time range.
    __table_args__ = (
        Index("ix_events_agent_at", "agent_id", "at"),
        Index("ix_events_call", "call_id"),
        Index("ix_events_at", "at"),
        # Today's figures: each agent's day in each status and state, and the wrap-ups, read
        # from the index alone in the order they are summed (no sorting 100,000 rows).
        Index("ix_events_agent_time", "agent_id", "prior_status", "prior_state", "id", "kind",
              "prior_seconds", "call_id"),
        # The same read on PostgreSQL, whose planner walks the day's range of ids instead (one
        # heap page a row without this): the range, with what the sums read beside each id.
        Index("ix_events_time_sums", "id", postgresql_include=[
            "agent_id", "kind", "prior_status", "prior_state", "prior_seconds", "call_id",
        ]).ddl_if(dialect="postgresql"),
    )


EVENT_ID_SPAN = 1 << 20     # ids per millisecond: a BIGINT holds them until the year 2248


def event_id(at: float, count: int = 0) -> int:
    """The id of the `count`th event of the millisecond of `at` (seconds since the epoch); with
    count 0, the lowest id of that millisecond."""
    return round(at * 1000) * EVENT_ID_SPAN + count % EVENT_ID_SPAN


class AuditEntry(Base):
    """One forced change a person (or the command line) made: who, when, what, on what, and the
    values before and after (JSON). Rows are only ever added (callcenter/audit.py writes them
    in the change's own transaction); the mapper refuses to update or delete one."""
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))   # None: the CLI
    actor: Mapped[str] = mapped_column(String(64))      # the user's name then, or "cli"
    action: Mapped[str] = mapped_column(String(64))     # e.g. user.create, queue.change
    target: Mapped[str] = mapped_column(String(128))    # e.g. user alice, queue sales
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)


@sa_event.listens_for(AuditEntry, "before_update")
@sa_event.listens_for(AuditEntry, "before_delete")
def _audit_is_append_only(_mapper, _connection, entry: AuditEntry) -> None:
    raise RuntimeError(f"the audit log is append-only: entry {entry.id} cannot change")
