"""Signal documents: structural problems reject the whole file (file:line), bad rows are skipped (line, reason)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from autotrader.domain.enums import Side
from autotrader.errors import InputError
from autotrader.policy.signal_files import PRICE_COLUMNS, parse_document, parse_instant, read_rows
from tests.factories import et

AS_OF = et("2026-03-02 10:00")
HEADER = "symbol,category,source,side,conviction,entry,stop,target,horizon_days,generated_at,note"
GOOD = "AAPL,long_term,alpha,buy,7,100,90,130,60,2026-03-02T08:00:00-05:00,a pick"
KNOWN = {"AAPL", "MSFT", "XOM"}


def parse(origin: str, text: str | bytes, *, as_of: datetime = AS_OF, max_age_days: float = 5):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return parse_document(
        origin, raw, as_of=as_of, max_age=timedelta(days=max_age_days), known_symbol=KNOWN.__contains__
    )


def csv_doc(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


# -- structural problems: the whole document is rejected ------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fragments"),
    [
        pytest.param(b"", ["f.csv:1:", "empty file"], id="zero-bytes"),
        pytest.param(
            csv_doc(GOOD, header="symbol,category,generated_at").encode(),
            ["f.csv:1:", "missing required column source", "required: symbol, category, source, generated_at"],
            id="missing-required-column",
        ),
        pytest.param(
            csv_doc(GOOD + ",12", header=HEADER + ",price").encode(),
            ["f.csv:1:", "unknown column 'price'", "allowed: symbol, category, source, side"],
            id="unknown-column",
        ),
        pytest.param(
            csv_doc(GOOD, header=HEADER.replace("note", "symbol")).encode(),
            ["f.csv:1:", "'symbol' appears twice"],
            id="duplicate-column",
        ),
        pytest.param(
            csv_doc(GOOD, GOOD.replace("2026-03-02T08:00:00-05:00", "yesterday")).encode(),
            ["f.csv:3:", "generated_at 'yesterday'", "ISO 8601"],
            id="unparsable-date",
        ),
        pytest.param(
            csv_doc(GOOD.replace(",7,", ",high,")).encode(),
            ["f.csv:2:", "conviction 'high' is not a number"],
            id="unparsable-number",
        ),
        pytest.param(
            csv_doc(GOOD.replace(",100,", ",nan,")).encode(),
            ["f.csv:2:", "entry 'nan' is not a finite number"],
            id="nan-number",
        ),
        pytest.param(
            (csv_doc(GOOD) + "MSFT,swing,alpha,buy,5").encode(),
            ["f.csv:3:", "5 fields, but the header has 11"],
            id="truncated-last-line",
        ),
        pytest.param(
            csv_doc(GOOD + ",extra").encode(),
            ["f.csv:2:", "12 fields, but the header has 11"],
            id="too-many-fields",
        ),
        pytest.param(
            csv_doc(GOOD, GOOD.replace("a pick", '"unterminated'), GOOD).encode(),
            ["f.csv:3:", "unterminated quote"],
            id="unterminated-quote",
        ),
        pytest.param(
            csv_doc(GOOD, GOOD.replace("a pick", "caf\u00e9")).encode("latin-1"),
            ["f.csv:3:", "not UTF-8", "0xe9"],
            id="not-utf8",
        ),
    ],
)
def test_structural_problems_reject_the_document_naming_file_and_line(raw, fragments):
    with pytest.raises(InputError) as caught:
        parse("f.csv", raw)
    assert caught.value.exit_code == 2
    for fragment in fragments:
        assert fragment in caught.value.message
    assert "columns:" in (caught.value.hint or "")  # says what is allowed


ITEM = {"symbol": "AAPL", "category": "swing", "source": "alpha", "generated_at": "2026-03-02T08:00:00-05:00"}


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param('[\n  {"symbol": "AAPL",\n   "category": }\n]', ["f.json:3:", "invalid JSON"], id="syntax"),
        pytest.param(json.dumps({"rows": [ITEM]}), ["f.json:1:", "expected a list"], id="not-a-list"),
        pytest.param(json.dumps([ITEM, "AAPL"]), ["f.json: item 2:", "expected an object"], id="item-not-object"),
        pytest.param(
            json.dumps([ITEM, {**ITEM, "price": 3}]), ["f.json: item 2:", "unknown field 'price'"], id="unknown"
        ),
        pytest.param(
            json.dumps([{k: v for k, v in ITEM.items() if k != "source"}]),
            ["f.json: item 1:", "missing required field source"],
            id="missing-field",
        ),
        pytest.param(json.dumps([{**ITEM, "entry": [1]}]), ["f.json: item 1:", "'entry' must be"], id="wrong-type"),
        pytest.param(json.dumps([{**ITEM, "entry": "cheap"}]), ["f.json: item 1:", "entry 'cheap'"], id="bad-number"),
        pytest.param(
            '[{"symbol": "AAPL", "entry": NaN}]'.replace(
                "}", ', "category": "swing", "source": "a", "generated_at": "2026-03-02"}'
            ),
            ["f.json: item 1:", "not a finite number"],
            id="nan",
        ),  # fmt: skip
        pytest.param(
            json.dumps([{**ITEM, "generated_at": "soon"}]), ["f.json: item 1:", "generated_at"], id="bad-date"
        ),
        pytest.param("", ["f.json:1:", "empty file"], id="zero-bytes"),
    ],
)
def test_structural_problems_in_json(text, fragments):
    with pytest.raises(InputError) as caught:
        parse("f.json", text)
    for fragment in fragments:
        assert fragment in caught.value.message


def test_a_utf8_bom_is_fine_in_csv_and_json():
    bom = b"\xef\xbb\xbf"
    assert len(parse("f.csv", bom + csv_doc(GOOD).encode()).signals) == 1
    assert len(parse("f.json", bom + json.dumps([ITEM]).encode()).signals) == 1


def test_a_header_only_file_is_fine_and_holds_nothing():
    parsed = parse("f.csv", HEADER + "\n")
    assert (parsed.rows, parsed.signals, parsed.skipped) == (0, (), ())
    assert parse("f.json", "[]").rows == 0


def test_only_the_required_columns_are_needed_in_any_order_and_case():
    parsed = parse("f.csv", csv_doc("2026-03-02, msft ,Swing,beta", header="generated_at,Symbol,CATEGORY,source"))
    (signal,) = parsed.signals
    assert (signal.symbol, signal.category, signal.source, signal.side) == ("MSFT", "swing", "beta", Side.BUY)
    assert signal.conviction is None and signal.entry is None and signal.note == ""


def test_a_valid_row_becomes_a_signal_with_its_line():
    parsed = parse("f.csv", csv_doc("", GOOD, "", GOOD.replace("AAPL", "XOM")))  # blank lines are skipped
    assert parsed.rows == 2 and parsed.skipped == ()
    first, second = parsed.signals
    assert (first.line, second.line) == (3, 5)
    assert first.symbol == "AAPL" and first.conviction == 7 and first.horizon_days == 60
    assert (first.entry, first.stop, first.target) == (100.0, 90.0, 130.0)
    assert first.generated_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    assert first.note == "a pick"


def test_a_quoted_multi_line_note_keeps_line_numbers_honest():
    text = csv_doc(GOOD.replace("a pick", '"two\nlines"'), GOOD.replace("AAPL", "ZZZZ"))
    parsed = parse("f.csv", text)
    assert parsed.signals[0].note == "two\nlines" and parsed.signals[0].line == 2
    assert parsed.skipped[0].line == 4  # the row after the two-line record starts on physical line 4


def test_json_documents_list_or_signals_object_line_is_the_item_number():
    items = [ITEM, {**ITEM, "symbol": "ZZZZ"}, {**ITEM, "symbol": "XOM", "conviction": 9, "entry": 50, "stop": 45}]
    for text in (json.dumps(items), json.dumps({"signals": items})):
        parsed = parse("f.json", text)
        assert [s.line for s in parsed.signals] == [1, 3]
        assert parsed.signals[1].conviction == 9 and parsed.signals[1].entry == 50.0
        assert [(s.line, s.symbol) for s in parsed.skipped] == [(2, "ZZZZ")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02", datetime(2026, 3, 2, 5, 0, tzinfo=UTC)),  # a bare date: 00:00 New York (EST)
        ("2026-07-01", datetime(2026, 7, 1, 4, 0, tzinfo=UTC)),  # ... EDT in summer
        ("2026-03-02T09:15", datetime(2026, 3, 2, 14, 15, tzinfo=UTC)),  # no offset: New York
        ("2026-03-02T09:15:00Z", datetime(2026, 3, 2, 9, 15, tzinfo=UTC)),
        ("2026-03-02T09:15:00+01:00", datetime(2026, 3, 2, 8, 15, tzinfo=UTC)),
    ],
)
def test_generated_at_rules(text, expected):
    assert parse_instant(text) == expected


# -- row-level problems: the row is skipped, the rest imports --------------------------------------


def _row(*, header: str = HEADER, **changes: str) -> str:
    values = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    values.update(changes)
    return ",".join(values[c] for c in header.split(","))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"symbol": "ZZZZ"}, "unknown symbol 'ZZZZ'"),
        ({"symbol": ""}, "missing value: symbol"),
        ({"category": "scalp"}, "invalid category 'scalp' (allowed: long_term, swing, day_trade)"),
        ({"side": "short"}, "invalid side 'short' (allowed: buy, sell)"),
        ({"conviction": "0"}, "conviction 0 is not a whole number from 1 to 10"),
        ({"conviction": "11"}, "conviction 11 is not a whole number from 1 to 10"),
        ({"conviction": "7.5"}, "conviction 7.5 is not a whole number from 1 to 10"),
        ({"entry": "-1", "stop": "", "target": ""}, "entry -1 must be > 0"),
        ({"stop": "0"}, "stop 0 must be > 0"),
        ({"horizon_days": "0"}, "horizon_days 0 must be a whole number from 1 to 2520"),
        ({"horizon_days": "2.5"}, "horizon_days 2.5 must be a whole number from 1 to 2520"),
        ({"stop": "105"}, "stop 105 must be below entry 100 for a buy"),
        ({"target": "95"}, "target 95 must be above entry 100 for a buy"),
        ({"side": "sell"}, "stop 90 must be above entry 100 for a sell"),
        ({"side": "sell", "stop": "110"}, "target 130 must be below entry 100 for a sell"),
        ({"entry": "", "stop": "130", "target": "90"}, "stop 130 must be below target 90 for a buy"),
        ({"generated_at": "2026-02-25T09:59:00-05:00"}, "stale"),
        ({"generated_at": "2026-03-02T10:00:01-05:00"}, "generated in the future"),
    ],
)
def test_each_bad_row_is_skipped_with_its_line_and_reason(changes, reason):
    parsed = parse("f.csv", csv_doc(GOOD, _row(**changes), GOOD.replace("AAPL", "XOM")))
    assert [s.symbol for s in parsed.signals] == ["AAPL", "XOM"]
    (skipped,) = parsed.skipped
    assert skipped.line == 3
    assert reason in skipped.reason
    assert skipped.symbol == changes.get("symbol", "AAPL").upper()


def test_valid_edges_are_kept():
    rows = [
        _row(generated_at="2026-03-02T10:00:00-05:00"),  # exactly the as-of: known by then
        _row(generated_at="2026-02-25T10:00:00-05:00", symbol="XOM"),  # exactly max_age_days old
        _row(side="SELL", stop="110", target="80", symbol="MSFT"),
        _row(conviction="10", horizon_days="1", category="day_trade"),
    ]
    parsed = parse("f.csv", csv_doc(*rows))
    assert parsed.skipped == ()
    assert parsed.signals[2].side == Side.SELL


def test_max_age_is_a_parameter():
    row = _row(generated_at="2026-02-20")
    assert parse("f.csv", csv_doc(row), max_age_days=5).skipped
    assert parse("f.csv", csv_doc(row), max_age_days=30).signals


def test_read_rows_is_structure_only():
    rows = read_rows("f.csv", csv_doc(_row(symbol="ZZZZ", conviction="99")).encode())
    assert rows[0].line == 2 and rows[0].values["conviction"] == 99.0


# -- the first target (target_one): a partial exit there, then the stop to break-even, then the target ----------

WITH_ONE = HEADER.replace("stop,target", "stop,target_one,target")


def test_a_first_target_between_the_entry_and_the_target_is_kept():
    assert "target_one" in PRICE_COLUMNS
    rows = [
        _row(header=WITH_ONE, target_one="115"),
        _row(header=WITH_ONE, target_one="", symbol="XOM"),  # optional
        _row(header=WITH_ONE, target_one="85", side="sell", stop="110", target="80", symbol="MSFT"),
        _row(header=WITH_ONE, target_one="100", entry="", symbol="AAPL", category="swing"),  # above the stop will do
    ]
    parsed = parse("f.csv", csv_doc(*rows, header=WITH_ONE))
    assert parsed.skipped == ()
    assert [s.target_one for s in parsed.signals] == [115.0, None, 85.0, 100.0]
    item = {**ITEM, "entry": 100, "stop": 95, "target_one": 105, "target": 110}
    assert parse("f.json", json.dumps([item])).signals[0].target_one == 105.0


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"target_one": "135"}, "target_one 135 must be below target 130 for a buy"),
        ({"target_one": "130"}, "target_one 130 must be below target 130 for a buy"),
        ({"target_one": "95"}, "target_one 95 must be above entry 100 for a buy"),
        ({"target_one": "100"}, "target_one 100 must be above entry 100 for a buy"),
        ({"target_one": "115", "target": ""}, "target_one 115 without a target (target_one is the first target, "
                                              "between entry and target)"),
        ({"target_one": "85", "entry": ""}, "target_one 85 must be above stop 90 for a buy"),
        ({"target_one": "-5"}, "target_one -5 must be > 0"),
        ({"target_one": "105", "side": "sell", "stop": "110", "target": "80"},
         "target_one 105 must be below entry 100 for a sell"),
        ({"target_one": "75", "side": "sell", "stop": "110", "target": "80"},
         "target_one 75 must be above target 80 for a sell"),
    ],
)  # fmt: skip
def test_a_bad_first_target_skips_the_row_with_its_reason(changes, reason):
    rows = [_row(header=WITH_ONE, target_one="115"), _row(header=WITH_ONE, **changes)]
    parsed = parse("f.csv", csv_doc(*rows, header=WITH_ONE))
    assert [s.target_one for s in parsed.signals] == [115.0]
    (skipped,) = parsed.skipped
    assert (skipped.line, skipped.reason) == (3, reason)


def test_a_first_target_that_is_not_a_number_rejects_the_document():
    with pytest.raises(InputError) as caught:
        parse("f.csv", csv_doc(_row(header=WITH_ONE, target_one="soon"), header=WITH_ONE))
    assert "f.csv:2: target_one 'soon' is not a number" in caught.value.message
    with pytest.raises(InputError) as caught:
        parse("f.json", json.dumps([{**ITEM, "target": 110, "target_one": [105]}]))
    assert "'target_one' must be a string or a number" in caught.value.message
