"""Validates an iCalendar document from stdin with the PyPI package `icalendar`.

Used by channels/rss/tests/ical.rs; install with `pip install icalendar==7.3.0`.

Checks the raw form (CRLF line endings only, physical lines of at most 75
octets, UTF-8), parses the document, fails on any property the parser could not
decode, checks the properties RFC 5545 requires, and prints what it read as JSON
on stdout for the Rust test to compare. Exit code 1 with a message on stderr
means the document is invalid; 2 means `icalendar` is not installed.
"""

import json
import sys

try:
    import icalendar
except ImportError:
    print("the Python package `icalendar` is not installed", file=sys.stderr)
    sys.exit(2)

import datetime


def fail(msg):
    print(f"invalid iCalendar: {msg}", file=sys.stderr)
    sys.exit(1)


def check_raw(data):
    if not data.endswith(b"\r\n"):
        fail("does not end with CRLF")
    for n, line in enumerate(data[:-2].split(b"\r\n"), 1):
        if b"\n" in line or b"\r" in line:
            fail(f"line {n}: bare CR or LF")
        if len(line) > 75:
            fail(f"line {n}: {len(line)} octets > 75")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as e:
            fail(f"line {n}: folded inside a UTF-8 character ({e})")


def when(value):
    if isinstance(value, datetime.datetime):
        if value.utcoffset() != datetime.timedelta(0):
            fail(f"date-time {value} is not UTC")
        return {"date_time": value.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if isinstance(value, datetime.date):
        return {"date": value.isoformat()}
    fail(f"not a date or date-time: {value!r}")


def text(component, name):
    value = component.get(name)
    return None if value is None else str(value)


def x_text(component, name):
    """A TEXT value of a property `icalendar` does not know.

    `icalendar` returns RFC 7986 `NAME` and `X-` properties undecoded
    (`vUnknown`), although RFC 5545 3.8.8.2 makes TEXT their default value type;
    decode them as TEXT like `SUMMARY`.
    """
    value = component.get(name)
    if value is None:
        return None
    if isinstance(value, icalendar.prop.vUnknown):
        # The parser's TEXT decoding, as applied to a known TEXT property.
        return icalendar.parser.Contentline(f"SUMMARY:{value}").parts()[2]
    return str(value)


def categories(event):
    value = event.get("CATEGORIES")
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [str(c) for v in values for c in v.cats]


def attachments(event):
    value = event.get("ATTACH")
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [{"uri": str(v), "fmttype": v.params.get("FMTTYPE")} for v in values]


def check_errors(component):
    for sub in component.walk():
        if sub.errors:
            fail(f"{sub.name}: parser errors {sub.errors}")


def main():
    data = sys.stdin.buffer.read()
    check_raw(data)
    try:
        cal = icalendar.Calendar.from_ical(data)
    except ValueError as e:
        fail(f"parser rejected it: {e}")
    check_errors(cal)
    if cal.name != "VCALENDAR":
        fail(f"top-level component is {cal.name}")
    for required in ("VERSION", "PRODID"):
        if required not in cal:
            fail(f"VCALENDAR lacks {required}")
    if str(cal["VERSION"]) != "2.0":
        fail("VERSION is not 2.0")

    events = []
    for ev in cal.walk("VEVENT"):
        for required in ("UID", "DTSTAMP", "DTSTART"):
            if required not in ev:
                fail(f"VEVENT lacks {required}")
        start = ev.decoded("DTSTART")
        end = ev.decoded("DTEND") if "DTEND" in ev else None
        if end is not None:
            if type(start) is not type(end):
                fail("DTSTART and DTEND differ in value type")
            if end <= start:
                fail("DTEND is not after DTSTART")
        events.append(
            {
                "uid": text(ev, "UID"),
                "summary": text(ev, "SUMMARY"),
                "description": text(ev, "DESCRIPTION"),
                "location": text(ev, "LOCATION"),
                "url": text(ev, "URL"),
                "status": text(ev, "STATUS"),
                "sequence": int(ev.decoded("SEQUENCE")) if "SEQUENCE" in ev else None,
                "categories": categories(ev),
                "attachments": attachments(ev),
                "start": when(start),
                "end": None if end is None else when(end),
                "dtstamp": when(ev.decoded("DTSTAMP")),
                "created": when(ev.decoded("CREATED")) if "CREATED" in ev else None,
                "last_modified": when(ev.decoded("LAST-MODIFIED"))
                if "LAST-MODIFIED" in ev
                else None,
            }
        )

    refresh = cal.get("REFRESH-INTERVAL")
    json.dump(
        {
            "icalendar_version": icalendar.__version__,
            "method": text(cal, "METHOD"),
            "calscale": text(cal, "CALSCALE"),
            "prodid": text(cal, "PRODID"),
            "name": x_text(cal, "X-WR-CALNAME"),
            "rfc7986_name": x_text(cal, "NAME"),
            "description": text(cal, "DESCRIPTION"),
            "x_description": x_text(cal, "X-WR-CALDESC"),
            "timezone": x_text(cal, "X-WR-TIMEZONE"),
            "refresh_seconds": None
            if refresh is None
            else int(cal.decoded("REFRESH-INTERVAL").total_seconds()),
            "ttl": text(cal, "X-PUBLISHED-TTL"),
            "events": events,
        },
        sys.stdout,
        ensure_ascii=False,
    )


if __name__ == "__main__":
    main()
