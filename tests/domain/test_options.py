"""Option contracts and structures: OCC symbols read and written, and shapes a structure cannot have refused."""

from __future__ import annotations

from datetime import date

import pytest

from autotrader.domain import options as o
from autotrader.domain.enums import OptionRight, Side, StructureKind

CALL, PUT = OptionRight.CALL, OptionRight.PUT
EXPIRY = date(2026, 3, 20)


def c(strike: float, right: OptionRight = CALL, expiry: date = EXPIRY, root: str = "AAPL") -> o.OptionContract:
    return o.OptionContract(root, expiry, right, strike)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AAPL260320C00150000", c(150.0)),
        ("O:AAPL260320C00150000", c(150.0)),  # Polygon's form
        ("AAPL  260320C00150000", c(150.0)),  # the OCC's own, the root padded to six
        ("spy261218p00432500", c(432.5, PUT, date(2026, 12, 18), "SPY")),
        ("BRKB260116C00000500", c(0.5, CALL, date(2026, 1, 16), "BRKB")),
    ],
)
def test_occ_symbols_of_every_form_name_the_contract(text, expected):
    assert o.parse_occ(text) == expected
    assert expected.symbol == text.replace("O:", "").replace(" ", "").upper()  # written back in Alpaca's form


def test_the_symbol_round_trips_for_every_strike_increment():
    for strike in (1.0, 2.5, 7.125, 99.99, 1234.5, 99_999.999):
        for right in (CALL, PUT):
            contract = c(strike, right)
            assert o.parse_occ(contract.symbol) == contract


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AAPL", "is not an OCC option symbol"),
        ("AAPL260320X00150000", "is not an OCC option symbol"),
        ("AAPL260320C150000", "is not an OCC option symbol"),  # the strike in fewer than 8 digits
        ("AAPL261340C00150000", "261340 is not a date"),
        ("AAPL260320C00000000", "a positive price"),
    ],
)
def test_a_symbol_that_names_no_contract_says_what_it_should_be(text, message):
    with pytest.raises(ValueError, match=message):
        o.parse_occ(text)


def test_contract_fields_are_checked():
    with pytest.raises(ValueError, match="1 to 6 capital letters"):
        c(100.0, root="TOOLONGX")
    with pytest.raises(ValueError, match="thousandths"):
        c(100.0001)
    assert c(105.0).intrinsic(110.0) == 5.0 and c(105.0).intrinsic(100.0) == 0.0
    assert c(105.0, PUT).intrinsic(100.0) == 5.0 and c(105.0, PUT).intrinsic(110.0) == 0.0


def test_structures_have_the_legs_their_kind_names():
    spread = o.vertical(c(100.0), c(105.0))
    assert spread.kind == StructureKind.VERTICAL and [leg.side for leg in spread.legs] == [Side.BUY, Side.SELL]
    condor = o.iron_condor(c(90.0, PUT), c(95.0, PUT), c(105.0), c(110.0))
    assert [(leg.contract.strike, leg.side) for leg in condor.legs] == [
        (90.0, Side.BUY), (95.0, Side.SELL), (105.0, Side.SELL), (110.0, Side.BUY)]  # fmt: skip
    assert condor.strikes == (90.0, 95.0, 105.0, 110.0) and condor.underlying == "AAPL"
    assert o.straddle(c(100.0), c(100.0, PUT), Side.SELL).legs[1].side == Side.SELL
    covered = o.covered_call(c(110.0), share_price=101.5)
    assert (covered.shares, covered.share_price) == (100, 101.5)
    assert o.cash_secured_put(c(95.0, PUT)).legs[0].side == Side.SELL
    later = o.OptionContract("AAPL", date(2026, 4, 17), CALL, 100.0)
    calendar = (o.OptionLeg(later, Side.BUY), o.OptionLeg(c(105.0), Side.SELL))
    assert o.Structure(StructureKind.VERTICAL, calendar).expiry == EXPIRY  # the nearest of the legs' expiries


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: o.vertical(c(100.0), c(105.0, PUT)), "both legs calls or both puts"),
        (lambda: o.vertical(c(100.0), c(100.0)), "two different strikes"),
        (lambda: o.vertical(c(100.0), c(105.0, root="MSFT")), "every leg on one underlying"),
        (lambda: o.vertical(c(100.0), c(105.0, expiry=date(2026, 4, 17))), "every leg of one expiry"),
        (lambda: o.iron_condor(c(95.0, PUT), c(90.0, PUT), c(105.0), c(110.0)), "long put < short put"),
        (lambda: o.iron_condor(c(90.0), c(95.0, PUT), c(105.0), c(110.0)), "a long put, a short put"),
        (lambda: o.straddle(c(100.0), c(105.0, PUT)), "one strike for both legs"),
        (lambda: o.straddle(c(100.0, PUT), c(100.0)), "a call and a put"),
        (lambda: o.covered_call(c(100.0, PUT), 99.0), "the leg sold is a call"),
        (lambda: o.covered_call(c(100.0), 0.0), "must be positive"),
        (lambda: o.cash_secured_put(c(100.0)), "the leg sold is a put"),
        (lambda: o.OptionLeg(c(100.0), Side.BUY, ratio=0), "at least 1 contract"),
    ],
)
def test_a_shape_that_is_not_its_kind_is_refused_with_what_is_wrong(build, message):
    with pytest.raises(ValueError, match=message):
        build()
