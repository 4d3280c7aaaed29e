"""The pure halves of position management: ``positions.plan_refresh`` (what each position's state becomes
from what the ledger and the market said), ``manage.plan_legs`` (decisions as intents or skip lines) and
the split match of ``corporate_actions``. No ledger, broker or clock: the inputs are built by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autotrader.clock import SessionState
from autotrader.domain.enums import LegKind, Side
from autotrader.domain.models import Quote
from autotrader.ledger import repo
from autotrader.pipeline import manage, positions
from autotrader.pipeline.corporate_actions import ListedSplit
from autotrader.pipeline.positions import _Entry, _Held, _Look, _Origin, plan_refresh
from autotrader.policy import management as mg
from autotrader.settings import ExitsSection

OPENED = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
KEY = repo.position_key("signals", "AAPL", repo.utc_iso(OPENED))
RULES = mg.Rules()
EXITS = ExitsSection()


def held(qty: float = 10) -> _Held:
    row = repo.PositionRow("signals", "AAPL", qty, 100.0, 0.0, repo.utc_iso(OPENED))
    return _Held(row, KEY, repo.utc_iso(OPENED), OPENED)


def quote(last: float, at: datetime = NOW) -> Quote:
    return Quote("AAPL", last - 0.01, last + 0.01, last, at)


def first_look(**changes) -> _Look:
    """A swing position seen for the first time: entry at 100, signal stop 95 and target 120."""
    base = dict(
        held=held(), known=None, sessions_held=5, entry=_Entry(10, 100.0, "cid", 1),
        origin=_Origin("swing", 95.0, 120.0, None), quote=quote(104.0), sessions_high=103.0,
        high_checked_at=repo.utc_iso(NOW),
    )  # fmt: skip
    return _Look(**{**base, **changes})


def refreshed(look: _Look, stored: dict[str, mg.Rules] | None = None, stale: list[str] | None = None):
    rules = {"signals": RULES, "rebalance": RULES}
    return plan_refresh([look], rules, stored, EXITS, stale=stale or [], closed_at=repo.utc_iso(NOW))


def test_a_new_life_gets_its_state_its_plan_and_the_last_price():
    plan = refreshed(first_look())
    (m,) = plan.managed
    (state,) = plan.save
    assert m.price == 104.0 and m.signal_id == 1
    assert (m.position.plan.stop_price, m.position.plan.target_price, m.position.plan.high_water) == (95, 120, 104)
    assert state["category"] == "swing" and state["original_qty"] == 10 and state["high_water"] == 104
    assert (state["last_price"], state["last_price_at"]) == (104.0, repo.utc_iso(NOW))
    assert plan.close == ()


def test_the_sessions_high_raises_the_high_water_mark_and_the_trail():
    (m,) = refreshed(first_look(sessions_high=110.0)).managed
    assert m.position.plan.high_water == 110.0
    assert m.position.plan.trail_active and m.position.plan.stop_leg == "trail"  # 6% above 100 reached


def test_a_quote_from_before_the_last_split_is_not_used():
    split = {"symbol": "AAPL", "ratio": 2.0, "effective_at": repo.utc_iso(NOW)}
    plan = refreshed(first_look(quote=quote(208.0, NOW - timedelta(hours=1)), splits=[split]))
    (m,) = plan.managed
    assert m.price is None and plan.save[0]["last_price"] is None


def test_a_gap_matching_a_split_ratio_halts_the_position():
    known = {**refreshed(first_look()).save[0]}
    plan = refreshed(first_look(known=known, origin=None, quote=quote(52.0, NOW + timedelta(minutes=5))))
    (m,) = plan.managed
    assert m.position.halted_reason and "2-for-1 split" in m.position.halted_reason
    assert plan.save[0]["halted_reason"] == m.position.halted_reason


def test_a_remembered_state_that_did_not_change_is_not_written():
    known = {**refreshed(first_look()).save[0]}
    plan = refreshed(first_look(known=known, origin=None))
    assert plan.save == () and len(plan.managed) == 1


def test_unmanaged_and_unfilled_positions_and_closed_lives():
    unmanaged = {"position_key": KEY, "category": None, "signal_id": None, "original_qty": 10, "entry_price": 100}
    unmanaged |= {k: None for k in ("stop_price", "stop_leg", "target_price", "target_one_price", "high_water")}
    unmanaged |= {"target_one_done": 0, "trail_active": 0}
    plan = refreshed(_Look(held(), unmanaged, 5), stale=["signals:MSFT:old"])
    assert [m.position.category for m in plan.managed] == [None] and plan.managed[0].price is None
    assert plan.save == () and plan.close == ("signals:MSFT:old",)
    assert refreshed(first_look(entry=None)).managed == ()  # fills not in yet: nothing to manage


def test_a_one_off_preset_decides_the_run_but_the_stored_trail_follows_the_configured_rules():
    tight = mg.Rules(trail_pct=1.0, trail_activation_pct=1.0)
    rules = {"signals": tight, "rebalance": tight}
    plan = plan_refresh([first_look()], rules, {"signals": RULES, "rebalance": RULES}, EXITS, stale=[], closed_at="")
    assert plan.managed[0].position.plan.trail_active  # 104 is 4% above the entry: the preset's trail is on
    assert plan.save[0]["trail_active"] == 0  # the configured 6% activation is not reached


OPEN = SessionState(None, True, "open", close_at=NOW + timedelta(hours=4))
CLOSED = SessionState(None, False, "weekend")


def managed(price: float | None = 104.0) -> positions.Managed:
    (m,) = refreshed(first_look()).managed
    return positions.Managed(m.position, price, m.signal_id)


def decisions(*actions: mg.Action) -> mg.Decisions:
    return mg.Decisions(list(actions), [mg.Skip(KEY, "AAPL", "some tier skipped")], {KEY: mg.Plan(stop_price=99.0)})


SELL = mg.Action(KEY, "AAPL", "sell", 5, "target", 1, 110.0, "first target")


def test_legs_are_intents_and_a_sell_cancels_the_protective_order_first():
    plan = manage.plan_legs("profittake", [managed()], decisions(SELL), session=OPEN, session_date="2026-03-09")
    ((action, intent),) = plan.legs
    assert action is SELL and intent.leg == LegKind.TARGET and intent.tier == 1 and intent.request.side == Side.SELL
    assert intent.position_key == KEY and intent.expires_at == OPEN.close_at
    assert intent.extra == {"trigger_price": 110.0, "reference_price": 104.0}
    assert [p.key for p in plan.cancel_first] == [KEY] and plan.held_back == frozenset()
    assert [s.reason for s in plan.skipped] == ["some tier skipped"]


def test_with_the_market_closed_nothing_is_sent_and_the_plan_is_held_back():
    plan = manage.plan_legs("profittake", [managed()], decisions(SELL), session=CLOSED, session_date="2026-03-09")
    assert plan.legs == () and plan.cancel_first == () and plan.held_back == {KEY}
    assert plan.skipped[-1].reason == "target tier 1: first target; not sent, market closed (weekend)"


def test_a_position_without_a_quote_is_skipped_first():
    plan = manage.plan_legs("dipbuy", [managed(None)], decisions(), session=OPEN, session_date="2026-03-09")
    assert [s.reason for s in plan.skipped] == ["no quote: nothing decided", "some tier skipped"]
    assert plan.legs == ()


def test_a_quantity_change_matches_a_split_or_a_reverse_split_with_cash_in_lieu():
    from autotrader.pipeline.corporate_actions import _price_agrees, _quantity_ratio

    ratios = tuple(EXITS.split_ratios)
    assert _quantity_ratio(10, 20, ratios, 3.0) == (2.0, 0.0)
    assert _quantity_ratio(105, 10, ratios, 3.0) == (0.1, 0.5)  # 1-for-10: 10.5 rounds down, 0.5 paid in cash
    assert _quantity_ratio(10, 13, ratios, 3.0) is None
    assert _quantity_ratio(17, 33, ratios, 3.0) is None  # near 2, yet no 2-for-1 split turns 17 into 33
    assert _quantity_ratio(7, 2, ratios, 3.0) == (1 / 3, 7 / 3 - 2)  # one book: floor(7 / 3) is 2
    assert _quantity_ratio(7, 2, ratios, 3.0, books=(2, 5)) is None  # each book rounds down: 0 + 1 is not 2
    assert _quantity_ratio(0, 10, ratios, 3.0) is None
    assert _price_agrees(2.05, 2.0) and not _price_agrees(1.3, 2.0)  # 1.3 is nearer no move than the split


def test_a_split_gap_is_measured_from_the_previous_sessions_close_not_the_last_price_seen():
    known = {**refreshed(first_look(quote=quote(100.0))).save[0]}
    later = quote(52.0, NOW + timedelta(days=2))
    # 100 → 52 is 1.92x, outside a 3% tolerance of 2; the session between closed at 104, exactly twice 52.
    alone = refreshed(first_look(known=known, origin=None, quote=later))
    assert alone.managed[0].position.halted_reason is None
    closes = ((repo.utc_iso(NOW + timedelta(days=1)), 104.0),)
    (m,) = refreshed(first_look(known=known, origin=None, quote=later, closes=closes)).managed
    assert m.position.halted_reason and "close 104.00" in m.position.halted_reason
    assert m.position.plan.high_water == known["high_water"]  # a halted price moves nothing


def test_a_first_look_after_an_ex_date_is_measured_against_the_entry_price():
    # Entered at 100; the first price any run sees is 51, after a 2-for-1 split the ledger does not know of.
    plan = refreshed(first_look(quote=quote(51.0)))
    (m,) = plan.managed
    assert m.position.halted_reason and "the entry price 100.00" in m.position.halted_reason
    assert "2-for-1 split" in m.position.halted_reason and plan.halted == (("AAPL", KEY, m.position.halted_reason),)
    # The entry stands as the last price seen, so a cleared halt starts from the next price, not the entry.
    (state,) = plan.save
    assert (state["last_price"], state["last_price_at"]) == (100.0, state["opened_at"])
    cleared = {**state, "halted_reason": None, "last_price": None}
    again = refreshed(first_look(known=cleared, origin=None, quote=quote(51.0, NOW + timedelta(minutes=5))))
    assert again.managed[0].position.halted_reason is None and again.save[0]["last_price"] == 51.0
    # A first look at a real loss is no split: the position is managed as it is.
    assert refreshed(first_look(quote=quote(80.0))).managed[0].position.halted_reason is None


def test_a_split_the_data_source_lists_halts_until_the_ledger_applies_it_and_keeps_the_old_price():
    known = {**refreshed(first_look(quote=quote(100.0))).save[0]}
    listed = (ListedSplit("AAPL", 2.0, repo.utc_iso(NOW + timedelta(hours=18))),)
    plan = refreshed(first_look(known=known, origin=None, quote=quote(55.0, NOW + timedelta(days=1)), listed=listed))
    (m,) = plan.managed
    assert m.position.halted_reason and "lists a 2-for-1 split" in m.position.halted_reason
    # The last price stays the one in the ledger's units: applying the split scales it with the rest.
    assert (plan.save[0]["last_price"], plan.save[0]["last_price_at"]) == (100.0, known["last_price_at"])
    assert plan.halted == (("AAPL", KEY, m.position.halted_reason),)
