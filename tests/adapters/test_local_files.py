"""LocalFilesData / LocalFilesReference: strict CSV parsing with file:line errors, and no look-ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autotrader.adapters import local_files
from autotrader.adapters.local_files import LocalFilesData, LocalFilesReference
from autotrader.clock import MarketCalendar, SimulatedClock
from autotrader.errors import DataError
from autotrader.ports import MarketData, Reference

CAL = MarketCalendar.xnys()
COLUMNS = ["open", "high", "low", "close", "volume"]
LATER = datetime(2030, 1, 1, tzinfo=UTC)

DAILY_HEADER = "date,open,high,low,close,volume"
MINUTE_HEADER = "timestamp,open,high,low,close,volume"
GOOD_DAILY = [
    DAILY_HEADER,
    "2026-03-09,100,101.5,99.5,101,1000",
    "2026-03-10,101,102,100,101.5,1200",
    "2026-03-11,101.5,103,101,102.75,900.5",
]


def et(day: str, hhmm: str) -> datetime:
    return CAL.at_et(date.fromisoformat(day), hhmm)


def write(folder: Path, name: str, lines: list[str], *, end: str = "\n", prefix: str = "") -> Path:
    path = folder / name
    path.write_text(prefix + "\n".join(lines) + end, encoding="utf-8")
    return path


def data(folder: Path, at: datetime = LATER) -> LocalFilesData:
    return LocalFilesData(folder, SimulatedClock(at), CAL)


def expected_daily(rows: list[tuple[str, float, float, float, float, float]]) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(r[0]) for r in rows], name="date").astype("datetime64[ns]")
    return pd.DataFrame([r[1:] for r in rows], columns=COLUMNS, index=index, dtype=np.float64)


# -- good files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "newline"),
    [("", "\n"), ("\ufeff", "\n"), ("", "\r\n"), ("\ufeff", "\r\n")],
    ids=["plain", "bom", "crlf", "bom+crlf"],
)
def test_a_good_daily_file_round_trips(tmp_path: Path, prefix: str, newline: str) -> None:
    # Arrange
    (tmp_path / "ACME.csv").write_bytes((prefix + newline.join(GOOD_DAILY) + newline).encode("utf-8"))
    # Act
    bars = data(tmp_path).daily_bars("ACME", date(2026, 1, 1), date(2026, 12, 31))
    # Assert
    expected = expected_daily(
        [
            ("2026-03-09", 100, 101.5, 99.5, 101, 1000),
            ("2026-03-10", 101, 102, 100, 101.5, 1200),
            ("2026-03-11", 101.5, 103, 101, 102.75, 900.5),
        ]
    )
    pd.testing.assert_frame_equal(bars, expected)


@pytest.mark.parametrize(
    ("start", "end", "expected_days"),
    [
        (date(2026, 3, 10), date(2026, 3, 10), ["2026-03-10"]),
        (date(2026, 3, 10), date(2026, 3, 31), ["2026-03-10", "2026-03-11"]),
        (date(2026, 3, 12), date(2026, 3, 31), []),
        (date(2025, 1, 1), date(2026, 3, 9), ["2026-03-09"]),
    ],
)
def test_daily_range_is_inclusive(tmp_path: Path, start: date, end: date, expected_days: list[str]) -> None:
    write(tmp_path, "ACME.csv", GOOD_DAILY)
    bars = data(tmp_path).daily_bars("ACME", start, end)
    assert [ts.date().isoformat() for ts in bars.index] == expected_days


@pytest.mark.parametrize("end", ["\n", "", "\n\n"], ids=["newline", "no-final-newline", "trailing-blank"])
def test_header_only_file_is_an_empty_frame(tmp_path: Path, end: str) -> None:
    write(tmp_path, "ACME.csv", [DAILY_HEADER], end=end)
    bars = data(tmp_path).daily_bars("ACME", date(2000, 1, 1), date(2030, 1, 1))
    assert bars.empty
    assert list(bars.columns) == COLUMNS
    assert bars.index.name == "date" and isinstance(bars.index, pd.DatetimeIndex)


def test_the_last_row_may_lack_a_newline(tmp_path: Path) -> None:
    write(tmp_path, "ACME.csv", GOOD_DAILY, end="")
    assert len(data(tmp_path).daily_bars("ACME", date(2026, 1, 1), date(2026, 12, 31))) == 3


# -- bad files: every problem names file:line ------------------------------------------------------

BAD_DAILY_ROWS = [
    # (id, bad row placed at line 3, fragment of the message)
    ("missing column", "2026-03-10,101,102,100,101.5", "missing columns: 5 values, expected 6"),
    ("extra column", "2026-03-10,101,102,100,101.5,1200,7", "extra columns: 7 values, expected 6"),
    (
        "impossible date",
        "2026-02-30,101,102,100,101.5,1200",
        "cannot read '2026-02-30' as a date; expected YYYY-MM-DD",
    ),
    ("slashed date", "2026/03/10,101,102,100,101.5,1200", "expected YYYY-MM-DD"),
    ("date with time", "2026-03-10T00:00,101,102,100,101.5,1200", "expected YYYY-MM-DD"),
    ("text for a number", "2026-03-10,abc,102,100,101.5,1200", "open: cannot read 'abc' as a number"),
    ("thousands separator", "2026-03-10,101,102,100,101.5,1_200", "volume: cannot read '1_200' as a number"),
    ("empty number", "2026-03-10,101,,100,101.5,1200", "high is empty"),
    ("NaN", "2026-03-10,101,NaN,100,101.5,1200", "NaN and infinity are not allowed"),
    ("inf", "2026-03-10,101,102,100,inf,1200", "close is 'inf'; NaN and infinity are not allowed"),
    ("-Infinity", "2026-03-10,101,102,-Infinity,101.5,1200", "NaN and infinity are not allowed"),
    ("overflow", "2026-03-10,101,102,100,101.5,1e999", "only finite numbers are allowed"),
    ("zero price", "2026-03-10,0,102,0,101.5,1200", "open is 0; prices must be > 0"),
    ("negative price", "2026-03-10,101,102,-100,101.5,1200", "low is -100; prices must be > 0"),
    ("negative volume", "2026-03-10,101,102,100,101.5,-5", "volume is -5; volume must be >= 0"),
    (
        "high below close",
        "2026-03-10,101,101.2,100,101.5,1200",
        "high 101.2 is below max(open, close) = 101.5",
    ),
    ("low above open", "2026-03-10,101,102,101.2,101.5,1200", "low 101.2 is above min(open, close) = 101"),
    ("duplicate date", "2026-03-09,101,102,100,101.5,1200", "duplicate date 2026-03-09 (first at line 2)"),
    (
        "out of order",
        "2026-03-06,101,102,100,101.5,1200",
        "2026-03-06 comes after 2026-03-09 (line 2); rows must be in",
    ),
    ("weekend", "2026-03-07,101,102,100,101.5,1200", "2026-03-07 is not an NYSE session (weekend)"),
    ("holiday", "2026-11-26,101,102,100,101.5,1200", "not an NYSE session (holiday: Thanksgiving"),
    ("blank line", "", "blank line"),
    ("stray quote", '2026-03-10,"101"x,102,100,101.5,1200', "malformed CSV"),
]


@pytest.mark.parametrize(("row", "fragment"), [c[1:] for c in BAD_DAILY_ROWS], ids=[c[0] for c in BAD_DAILY_ROWS])
def test_each_bad_daily_row_names_file_and_line(tmp_path: Path, row: str, fragment: str) -> None:
    # Arrange: a good row, the bad one (line 3), another good row.
    write(tmp_path, "ACME.csv", [GOOD_DAILY[0], GOOD_DAILY[1], row, "2026-03-12,101.5,103,101,102.75,900"])
    # Act / Assert
    with pytest.raises(DataError) as caught:
        data(tmp_path).daily_bars("ACME", date(2026, 1, 1), date(2026, 12, 31))
    assert "ACME.csv:3: " in caught.value.message
    assert fragment in caught.value.message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "the file is empty"),
        ("Date,Open,High,Low,Close,Volume\n", 1, "expected exactly 'date,open,high,low,close,volume'"),
        ("date,open,high,low,close\n", 1, "header is 'date,open,high,low,close'"),
        ("date,open,high,low,close,volume,vwap\n", 1, "expected exactly"),
        (DAILY_HEADER + "\n2026-03-09,100,101.5,99.5,101,1000\n2026-03-10,101,10", 3, "truncated line"),
        (
            DAILY_HEADER + "\n2026-03-09,100,101.5,99.5,101,1000\n\n2026-03-10,101,102,100,101.5,1200\n",
            3,
            "blank",
        ),
    ],
    ids=[
        "zero bytes",
        "capitalised header",
        "missing header column",
        "extra header column",
        "truncated",
        "gap",
    ],
)
def test_bad_headers_and_truncation_name_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    (tmp_path / "ACME.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        data(tmp_path).daily_bars("ACME", date(2026, 1, 1), date(2026, 12, 31))
    assert f"ACME.csv:{line}: " in caught.value.message
    assert fragment in caught.value.message


def test_non_utf8_file_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "ACME.csv").write_bytes(
        (DAILY_HEADER + "\n2026-03-09,100,101.5,99.5,101,1000 caf\xe9\n").encode("latin-1")
    )
    with pytest.raises(DataError, match=r"ACME\.csv: not UTF-8"):
        data(tmp_path).daily_bars("ACME", date(2026, 1, 1), date(2026, 12, 31))


# -- look-ahead ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected_last"),
    [
        (et("2026-03-10", "15:59"), "2026-03-09"),
        (et("2026-03-10", "16:00"), "2026-03-10"),
        (et("2026-11-27", "12:59"), "2026-11-25"),  # early close at 13:00
        (et("2026-11-27", "13:00"), "2026-11-27"),
        (et("2026-03-09", "15:00"), None),
    ],
)
def test_daily_rows_appear_at_their_sessions_close(tmp_path: Path, now: datetime, expected_last: str | None) -> None:
    write(
        tmp_path,
        "ACME.csv",
        [*GOOD_DAILY[:3], "2026-11-25,100,101,99,100,10", "2026-11-27,100,101,99,100.5,10"],
    )
    bars = data(tmp_path, now).daily_bars("ACME", date(2026, 1, 1), date(2026, 12, 31))
    assert (bars.index[-1].date().isoformat() if len(bars) else None) == expected_last


MINUTES = [
    MINUTE_HEADER,
    "2026-03-10 09:30:00,100,100.5,99.8,100.2,500",  # naive: New York (EDT since March 8)
    "2026-03-10T09:31,100.2,100.4,100.1,100.3,400",
    "2026-03-10T09:32:00-04:00,100.3,100.6,100.2,100.5,300",
    "2026-03-10T13:33:00Z,100.5,100.7,100.4,100.6,200",
]


def test_minute_timestamps_without_offset_are_new_york_time(tmp_path: Path) -> None:
    # Arrange
    write(tmp_path, "ACME.csv", GOOD_DAILY)
    write(tmp_path, "ACME.1m.csv", [*MINUTES, "2026-03-11 09:30:00,1,1,1,1,1"])
    # Act
    bars = data(tmp_path).minute_bars("ACME", datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC))
    # Assert: 09:30 EDT is 13:30 UTC
    expected = [datetime(2026, 3, 10, 13, m, tzinfo=UTC) for m in (30, 31, 32, 33)] + [
        datetime(2026, 3, 11, 13, 30, tzinfo=UTC)
    ]
    assert list(bars.index) == expected
    assert str(bars.index.tz) == "UTC" and bars.index.name == "timestamp"
    assert bars["close"].tolist() == [100.2, 100.3, 100.5, 100.6, 1.0]


def test_naive_winter_timestamps_are_eastern_standard_time(tmp_path: Path) -> None:
    write(tmp_path, "ACME.csv", GOOD_DAILY)
    write(tmp_path, "ACME.1m.csv", [MINUTE_HEADER, "2026-01-05 09:30:00,1,1,1,1,1"])
    bars = data(tmp_path).minute_bars("ACME", datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC))
    assert list(bars.index) == [datetime(2026, 1, 5, 14, 30, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("now", "expected_count"),
    [
        (et("2026-03-10", "09:30"), 0),
        (et("2026-03-10", "09:31") - timedelta(seconds=1), 0),
        (et("2026-03-10", "09:31"), 1),  # the 09:30 bar has ended
        (et("2026-03-10", "09:33"), 3),
        (et("2026-03-10", "09:34"), 4),
    ],
)
def test_minute_bars_appear_once_ended(tmp_path: Path, now: datetime, expected_count: int) -> None:
    write(tmp_path, "ACME.csv", GOOD_DAILY)
    write(tmp_path, "ACME.1m.csv", MINUTES)
    bars = data(tmp_path, now).minute_bars("ACME", et("2026-03-10", "09:00"), et("2026-03-10", "16:00"))
    assert len(bars) == expected_count


def test_minute_range_end_is_exclusive(tmp_path: Path) -> None:
    write(tmp_path, "ACME.csv", GOOD_DAILY)
    write(tmp_path, "ACME.1m.csv", MINUTES)
    bars = data(tmp_path).minute_bars("ACME", et("2026-03-10", "09:31"), et("2026-03-10", "09:33"))
    assert list(bars.index) == [et("2026-03-10", "09:31"), et("2026-03-10", "09:32")]


BAD_MINUTE_ROWS = [
    ("not a time", "yesterday,1,1,1,1,1", "timestamp: cannot read 'yesterday'"),
    ("date only", "2026-03-10,1,1,1,1,1", "timestamp: cannot read '2026-03-10'"),
    ("seconds", "2026-03-10 09:31:15,1,1,1,1,1", "not on a whole minute"),
    ("same instant, other spelling", "2026-03-10T13:30:00+00:00,1,1,1,1,1", "duplicate timestamp"),
    ("out of order", "2026-03-10 09:29:00,1,1,1,1,1", "rows must be in ascending order"),
    ("high below open", "2026-03-10 09:31,2,1.5,1,1,1", "high 1.5 is below max(open, close) = 2"),
]


@pytest.mark.parametrize(("row", "fragment"), [c[1:] for c in BAD_MINUTE_ROWS], ids=[c[0] for c in BAD_MINUTE_ROWS])
def test_each_bad_minute_row_names_file_and_line(tmp_path: Path, row: str, fragment: str) -> None:
    write(tmp_path, "ACME.csv", GOOD_DAILY)
    write(tmp_path, "ACME.1m.csv", [MINUTE_HEADER, "2026-03-10 09:30:00,1,1,1,1,1", row])
    with pytest.raises(DataError) as caught:
        data(tmp_path).minute_bars("ACME", et("2026-03-10", "09:00"), et("2026-03-10", "16:00"))
    assert "ACME.1m.csv:3: " in caught.value.message
    assert fragment in caught.value.message


# -- symbols, VIX, quotes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "known"),
    [
        ("ACME", True),
        ("acme", False),
        ("BRK.B", True),
        ("NOPE", False),
        ("../ACME", False),
        ("", False),
        ("ACME.1M", False),
        ("VIX", False),
    ],
)
def test_has_symbol_means_a_daily_file_exists(tmp_path: Path, symbol: str, known: bool) -> None:
    write(tmp_path, "ACME.csv", GOOD_DAILY)
    write(tmp_path, "BRK.B.csv", GOOD_DAILY)
    write(tmp_path, "ACME.1M.csv", GOOD_DAILY)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "X.csv", GOOD_DAILY)
    assert data(tmp_path / "sub" if symbol == "../ACME" else tmp_path).has_symbol(symbol) is known


def test_unknown_symbol_has_no_data(tmp_path: Path) -> None:
    md = data(tmp_path)
    assert md.daily_bars("NOPE", date(2026, 1, 1), date(2026, 12, 31)).empty
    minutes = md.minute_bars("NOPE", et("2026-03-10", "09:00"), et("2026-03-10", "16:00"))
    assert minutes.empty and minutes.index.name == "timestamp" and str(minutes.index.tz) == "UTC"
    assert md.latest_quote("NOPE") is None


def test_vix_comes_from_vix_csv_or_is_empty(tmp_path: Path) -> None:
    assert data(tmp_path).vix_daily(date(2026, 1, 1), date(2026, 12, 31)).empty
    write(tmp_path, "VIX.csv", [DAILY_HEADER, "2026-03-09,18.2,19.9,17.5,19.1,0"])
    vix = data(tmp_path).vix_daily(date(2026, 1, 1), date(2026, 12, 31))
    pd.testing.assert_frame_equal(vix, expected_daily([("2026-03-09", 18.2, 19.9, 17.5, 19.1, 0)]))


@pytest.mark.parametrize(
    ("now", "with_minutes", "last", "quoted_at"),
    [
        (et("2026-03-10", "09:32") + timedelta(seconds=30), True, 100.3, et("2026-03-10", "09:32")),
        (et("2026-03-10", "09:30") + timedelta(seconds=30), True, 101.0, et("2026-03-09", "16:00")),
        (et("2026-03-10", "11:00"), False, 101.0, et("2026-03-09", "16:00")),
        (et("2026-03-10", "17:00"), True, 101.5, et("2026-03-10", "16:00")),
        (et("2026-03-14", "12:00"), True, 102.75, et("2026-03-11", "16:00")),
        (et("2026-03-09", "12:00"), False, None, None),
    ],
)
def test_latest_quote_is_the_last_complete_bar(
    tmp_path: Path, now: datetime, with_minutes: bool, last: float | None, quoted_at: datetime | None
) -> None:
    write(tmp_path, "ACME.csv", GOOD_DAILY)
    if with_minutes:
        write(tmp_path, "ACME.1m.csv", MINUTES)
    quote = data(tmp_path, now).latest_quote("ACME")
    if last is None:
        assert quote is None
        return
    assert quote is not None
    assert (quote.last, quote.bid, quote.ask) == (last, last, last)
    assert quote.quoted_at == quoted_at


# -- caching ---------------------------------------------------------------------------------------


def test_each_file_is_parsed_once_until_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange
    calls: list[Path] = []
    real = local_files._parse_daily

    def counting(path: Path, calendar: MarketCalendar) -> object:
        calls.append(path)
        return real(path, calendar)

    monkeypatch.setattr(local_files, "_parse_daily", counting)
    write(tmp_path, "ACME.csv", GOOD_DAILY)
    # Act: two instances, several reads
    for md in (data(tmp_path), data(tmp_path)):
        md.daily_bars("ACME", date(2026, 1, 1), date(2026, 12, 31))
        md.latest_quote("ACME")
    once = len(calls)
    write(tmp_path, "ACME.csv", GOOD_DAILY[:2])
    shorter = data(tmp_path).daily_bars("ACME", date(2026, 1, 1), date(2026, 12, 31))
    # Assert
    assert once == 1
    assert len(calls) == 2 and len(shorter) == 1


def test_returned_frames_do_not_share_memory_with_the_cache(tmp_path: Path) -> None:
    write(tmp_path, "ACME.csv", GOOD_DAILY)
    md = data(tmp_path)
    first = md.daily_bars("ACME", date(2026, 1, 1), date(2026, 12, 31))
    first.loc[:, "close"] = -1.0
    assert (md.daily_bars("ACME", date(2026, 1, 1), date(2026, 12, 31))["close"] > 0).all()


def test_adapters_satisfy_the_ports(tmp_path: Path) -> None:
    assert isinstance(data(tmp_path), MarketData)
    assert isinstance(LocalFilesReference(tmp_path), Reference)


# -- reference.csv ---------------------------------------------------------------------------------

REFERENCE = [
    "symbol,sector,earnings_dates",
    "ACME,Industrials,2026-07-30;2026-01-29; 2026-04-30",
    "SPY,ETF,",
    "NEWCO,,2026-05-05",
]


@pytest.mark.parametrize(
    ("symbol", "on_or_after", "sector", "next_earnings"),
    [
        ("ACME", date(2026, 1, 1), "Industrials", date(2026, 1, 29)),
        ("ACME", date(2026, 1, 29), "Industrials", date(2026, 1, 29)),
        ("ACME", date(2026, 1, 30), "Industrials", date(2026, 4, 30)),
        ("ACME", date(2026, 8, 1), "Industrials", None),
        ("SPY", date(2026, 1, 1), "ETF", None),
        ("NEWCO", date(2026, 1, 1), None, date(2026, 5, 5)),
        ("NOPE", date(2026, 1, 1), None, None),
    ],
)
def test_reference_reads_sectors_and_earnings(
    tmp_path: Path, symbol: str, on_or_after: date, sector: str | None, next_earnings: date | None
) -> None:
    write(tmp_path, "reference.csv", REFERENCE, prefix="\ufeff")
    reference = LocalFilesReference(tmp_path)
    assert reference.sector(symbol) == sector
    assert reference.next_earnings(symbol, on_or_after) == next_earnings


def test_missing_reference_file_knows_nothing(tmp_path: Path) -> None:
    reference = LocalFilesReference(tmp_path)
    assert reference.sector("ACME") is None
    assert reference.next_earnings("ACME", date(2026, 1, 1)) is None


@pytest.mark.parametrize(
    ("lines", "line", "fragment"),
    [
        (["symbol,sector"], 1, "expected exactly 'symbol,sector,earnings_dates'"),
        ([REFERENCE[0], "ACME,Industrials,2026-02-30"], 2, "cannot read '2026-02-30' as a date"),
        ([REFERENCE[0], "ACME,Industrials,2026-01-29;;2026-04-30"], 2, "cannot read '' as a date"),
        ([REFERENCE[0], "ACME,Industrials,", "ACME,Energy,"], 3, "duplicate symbol ACME (first at line 2)"),
        ([REFERENCE[0], "acme,Industrials,"], 2, "is not a ticker"),
        ([REFERENCE[0], "ACME,Industrials"], 2, "missing columns"),
    ],
)
def test_bad_reference_rows_name_file_and_line(tmp_path: Path, lines: list[str], line: int, fragment: str) -> None:
    write(tmp_path, "reference.csv", lines)
    with pytest.raises(DataError) as caught:
        LocalFilesReference(tmp_path).sector("ACME")
    assert f"reference.csv:{line}: " in caught.value.message
    assert fragment in caught.value.message


def test_splits_are_read_sorted_and_bad_rows_name_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "splits.csv", ["symbol,ex_date,ratio", "BBB,2026-06-02,0.1", "AAA,2026-03-10,2"])
    assert data(tmp_path).splits() == [("AAA", date(2026, 3, 10), 2.0), ("BBB", date(2026, 6, 2), 0.1)]
    for row, fragment in [("AAA,2026-03-10,0", "must be a positive number"), ("aaa,2026-03-10,2", "not a ticker"),
                          ("AAA,10/03/2026,2", "ex_date")]:  # fmt: skip
        write(tmp_path, "splits.csv", ["symbol,ex_date,ratio", "CCC,2026-01-05,2", row])
        with pytest.raises(DataError) as caught:
            data(tmp_path).splits()
        assert "splits.csv:3: " in caught.value.message and fragment in caught.value.message
    assert LocalFilesData(tmp_path / "nowhere", SimulatedClock(LATER), CAL).splits() == []
