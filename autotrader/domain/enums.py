"""Enumerations shared by every layer. Values are persisted in the ledger: never rename one."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    OPG = "opg"  # market-on-open / limit-on-open
    CLS = "cls"  # market-on-close
    IOC = "ioc"
    FOK = "fok"


class OrderClass(StrEnum):
    SIMPLE = "simple"
    BRACKET = "bracket"  # entry + take-profit + stop-loss
    OCO = "oco"  # exit only: take-profit limit + stop-loss, one cancels the other
    OTO = "oto"  # entry + one exit leg
    MLEG = "mleg"  # an options structure: several option legs in one order at one net limit price


class Book(StrEnum):
    SIGNALS = "signals"
    REBALANCE = "rebalance"
    OPTIONS = "options"  # option structures (and the shares an assignment or a covered call holds)
    EXTERNAL = "external"  # orders and positions the ledger did not create: never touched


class OptionRight(StrEnum):
    CALL = "call"
    PUT = "put"


class PositionIntent(StrEnum):
    """What an option leg does to its contract's position (Alpaca's ``position_intent``)."""

    BUY_TO_OPEN = "buy_to_open"
    BUY_TO_CLOSE = "buy_to_close"
    SELL_TO_OPEN = "sell_to_open"
    SELL_TO_CLOSE = "sell_to_close"


class OptionEventKind(StrEnum):
    """What expiry did to an option position (Alpaca's non-trade activities OPEXP, OPEXC, OPASN)."""

    EXPIRED = "expired"  # out of the money: gone, worth nothing
    EXERCISED = "exercised"  # a long option in the money: its shares bought (call) or sold (put) at the strike
    ASSIGNED = "assigned"  # a short option in the money: its shares sold (call) or bought (put) at the strike
    CASH_SETTLED = "cash_settled"  # in the money, but the account could not take the shares: paid its intrinsic


class StructureKind(StrEnum):
    """The option structures the options book trades; each is one order of legs, one position."""

    VERTICAL = "vertical"  # a long and a short option of one right and expiry (a debit or a credit spread)
    IRON_CONDOR = "iron_condor"  # a short put spread below and a short call spread above, one expiry
    STRADDLE = "straddle"  # a call and a put at one strike and expiry, both bought (or both sold)
    COVERED_CALL = "covered_call"  # a short call against 100 shares held per contract
    CASH_SECURED_PUT = "cash_secured_put"  # a short put with its strike x 100 held in cash per contract
    # Two puts and 100 shares per unit: a long straddle by put-call parity, delta-hedged with the shares alone
    # (the account never sells short, which a straddle's own hedge would need above its strike).
    SYNTHETIC_STRADDLE = "synthetic_straddle"


class BrokerOrderStatus(StrEnum):
    """Alpaca's order statuses. A status we do not know is treated as open (Alpaca adds values over time)."""

    NEW = "new"
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    HELD = "held"
    CALCULATED = "calculated"
    STOPPED = "stopped"

    @classmethod
    def parse(cls, value: str) -> BrokerOrderStatus | str:
        try:
            return cls(value)
        except ValueError:
            return value  # unknown: kept verbatim and treated as open

    @staticmethod
    def is_terminal(status: str) -> bool:
        return status in TERMINAL_BROKER_STATUSES


# The broker statuses after which an order never changes again: the one definition the adapters, the
# ledger's queries and sync share.
TERMINAL_BROKER_STATUSES: frozenset[BrokerOrderStatus] = frozenset(
    {
        BrokerOrderStatus.FILLED,
        BrokerOrderStatus.CANCELED,
        BrokerOrderStatus.EXPIRED,
        BrokerOrderStatus.REPLACED,
        BrokerOrderStatus.REJECTED,
        BrokerOrderStatus.DONE_FOR_DAY,
    }
)


class IntentStatus(StrEnum):
    """Life of an order intent in the ledger.

    PLANNED → SUBMITTING → {ACCEPTED | REJECTED | UNKNOWN} → PARTIALLY_FILLED → {FILLED | CANCELED | EXPIRED};
    ABANDONED is a local decision (e.g. a stale intent from an earlier session), never a broker fact.
    """

    PLANNED = "planned"
    SUBMITTING = "submitting"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    ABANDONED = "abandoned"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_INTENT_STATUSES

    @property
    def needs_resolution(self) -> bool:
        """Statuses whose broker outcome must be looked up before anything else is sent."""
        return self in (IntentStatus.SUBMITTING, IntentStatus.UNKNOWN)


TERMINAL_INTENT_STATUSES: frozenset[IntentStatus] = frozenset(
    {
        IntentStatus.FILLED,
        IntentStatus.CANCELED,
        IntentStatus.EXPIRED,
        IntentStatus.REJECTED,
        IntentStatus.ABANDONED,
    }
)
# Every other status: the intent may still trade.
OPEN_INTENT_STATUSES: tuple[IntentStatus, ...] = tuple(s for s in IntentStatus if s not in TERMINAL_INTENT_STATUSES)
# Intents the broker may not know yet (never sent, being sent, or sent with an unclear outcome): the gateway
# resolves them by client order id before anything else is sent.
IN_FLIGHT_INTENT_STATUSES: tuple[IntentStatus, ...] = (
    IntentStatus.PLANNED,
    IntentStatus.SUBMITTING,
    IntentStatus.UNKNOWN,
)

# Allowed transitions; anything else is a bug and is refused by the ledger repo.
INTENT_TRANSITIONS: dict[IntentStatus, frozenset[IntentStatus]] = {
    # UNKNOWN from PLANNED: a deferred intent whose session passed is looked up before it is abandoned, and
    # that lookup can fail; the intent is then in doubt until a later lookup settles it.
    IntentStatus.PLANNED: frozenset({IntentStatus.SUBMITTING, IntentStatus.ABANDONED, IntentStatus.UNKNOWN}),
    IntentStatus.SUBMITTING: frozenset(
        {
            IntentStatus.ACCEPTED,
            IntentStatus.PARTIALLY_FILLED,
            IntentStatus.FILLED,
            IntentStatus.CANCELED,
            IntentStatus.EXPIRED,
            IntentStatus.REJECTED,
            IntentStatus.UNKNOWN,
            IntentStatus.SUBMITTING,
            IntentStatus.ABANDONED,  # proven never to have reached the broker, and its session has passed
            IntentStatus.PLANNED,  # proven never to have reached the broker: sent again by a later run
        }
    ),
    IntentStatus.UNKNOWN: frozenset(
        {
            IntentStatus.SUBMITTING,
            IntentStatus.ACCEPTED,
            IntentStatus.PARTIALLY_FILLED,
            IntentStatus.FILLED,
            IntentStatus.CANCELED,
            IntentStatus.EXPIRED,
            IntentStatus.REJECTED,
            IntentStatus.ABANDONED,
            IntentStatus.PLANNED,  # proven never to have reached the broker, and held back (a buy while in doubt)
        }
    ),
    IntentStatus.ACCEPTED: frozenset(
        {
            IntentStatus.PARTIALLY_FILLED,
            IntentStatus.FILLED,
            IntentStatus.CANCELED,
            IntentStatus.EXPIRED,
            IntentStatus.REJECTED,  # Alpaca can accept then reject asynchronously
        }
    ),
    IntentStatus.PARTIALLY_FILLED: frozenset(
        {IntentStatus.FILLED, IntentStatus.CANCELED, IntentStatus.EXPIRED, IntentStatus.PARTIALLY_FILLED}
    ),
    IntentStatus.FILLED: frozenset(),
    IntentStatus.CANCELED: frozenset(),
    IntentStatus.EXPIRED: frozenset(),
    IntentStatus.REJECTED: frozenset(),
    IntentStatus.ABANDONED: frozenset(),
}


def intent_status_from_broker(status: str) -> IntentStatus:
    """Map a broker order status onto the intent's status."""
    return {
        BrokerOrderStatus.FILLED: IntentStatus.FILLED,
        BrokerOrderStatus.PARTIALLY_FILLED: IntentStatus.PARTIALLY_FILLED,
        BrokerOrderStatus.CANCELED: IntentStatus.CANCELED,
        BrokerOrderStatus.EXPIRED: IntentStatus.EXPIRED,
        BrokerOrderStatus.DONE_FOR_DAY: IntentStatus.EXPIRED,
        BrokerOrderStatus.REPLACED: IntentStatus.CANCELED,
        BrokerOrderStatus.REJECTED: IntentStatus.REJECTED,
    }.get(status, IntentStatus.ACCEPTED)  # type: ignore[call-overload]


class LegKind(StrEnum):
    """What an order does for its position; the scorecard separates pick quality from management by it."""

    ENTRY = "entry"
    DIP_BUY = "dip_buy"
    PROFIT_TAKE = "profit_take"
    LOSS_CUT = "loss_cut"
    STOP = "stop"
    TARGET = "target"
    TRAIL = "trail"
    TIME_EXIT = "time_exit"
    SIGNAL_EXIT = "signal_exit"  # a sell signal for a held symbol ([exits] on_sell_signal = "exit"): sold whole
    REBALANCE = "rebalance"
    HEDGE = "hedge"  # shares bought or sold to bring an options position's delta back inside its band
    FLATTEN = "flatten"  # the owner's `autotrader flatten`: sold at market, whatever management would do
    EXTERNAL = "external"


class RejectReason(StrEnum):
    """Why a broker definitively refused an order (``OrderRejected.reason``, the intent's ``error_code``).

    Every broker adapter maps its refusals onto these words, so a rejection reads the same from the
    simulator and from Alpaca; the broker contract suite checks that they agree.
    """

    INSUFFICIENT_BUYING_POWER = "insufficient_buying_power"
    INSUFFICIENT_QTY = "insufficient_qty"  # selling more than is held (also how a short sale is refused)
    WASH_TRADE = "wash_trade"
    AUCTION_WINDOW = "auction_window"  # a market-on-open/close order outside the window the broker takes it
    DAY_TRADING_PROTECTION = "day_trading_protection"
    SHORTING_NOT_ALLOWED = "shorting_not_allowed"
    NOT_FRACTIONABLE = "not_fractionable"
    SUB_PENNY = "sub_penny"  # a price off the tick: >= $1 at most 2 decimals, < $1 at most 4
    NOT_TRADABLE = "not_tradable"  # an unknown symbol, or one the broker does not trade
    INVALID_ORDER = "invalid_order"  # the request itself is malformed (missing price, bad bracket legs...)
    FORBIDDEN = "forbidden"  # a trading refusal the broker did not explain further
    NO_PRICE = "no_price"  # the simulator has no recent price to check buying power against
    CREDENTIALS_REFUSED = "credentials_refused"  # the broker refused the keys (401): it did not act on the order
    REJECTED = "rejected"  # any other definitive refusal


class ExitCode(IntEnum):
    """The process exit codes: every command ends with one of these, and cron reads them."""

    OK = 0  # done, including "market closed, nothing to do"
    FAILURE = 1  # an unexpected failure (a bug; the trace is in the day's log), or a failed `status --check`
    BAD_INPUT = 2  # bad input or config; nothing written
    HALTED = 3  # broker and ledger disagree, or an order's outcome is unknown: buying halted until resolved
    LOCKED = 4  # another run holds the workspace lock
    SAFETY = 5  # a safety rule refused the run
    STORAGE = 74  # the ledger or a workspace file could not be written (disk full, I/O error): rolled back
    TEMPORARY = 75  # a temporary failure (network, rate limit) after bounded retries; safe to rerun


class Breaker(StrEnum):
    """A circuit breaker the owner can end by hand (``autotrader resume --breaker``)."""

    STREAK = "streak"  # the losing-streak pause of new entries


#: The sizing gates that are circuit breakers (they stop every new entry, not one signal; ``sizing.BREAKERS``
#: runs them), each as (the name its trace step carries, the short name the metrics and ``resume --breaker``
#: use, the words a message uses): one table for the daily report, the notifications and the metrics.
BREAKER_GATES: tuple[tuple[str, str, str], ...] = (
    ("consecutive_losses", Breaker.STREAK.value, "losing streak"),
    ("max_daily_loss", "max_daily_loss", "daily loss limit"),
    ("daily_profit_target", "daily_profit_target", "daily profit target"),
    ("drawdown_pause", "drawdown_pause", "drawdown pause"),
)
