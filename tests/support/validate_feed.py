#!/usr/bin/env python3
"""Independent check of a Herold feed with feedparser.

Usage: validate_feed.py FILE atom|rss

feedparser only flags ill-formed XML (bozo), so the elements RFC 4287 and
RSS 2.0 require are checked here as well. Prints a JSON summary (feed title,
entry titles, links) on success; exits 1 with the problems otherwise.
"""
import json
import sys

import feedparser


def main() -> int:
    path, kind = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        raw = f.read()
    d = feedparser.parse(raw)
    problems = []
    if d.bozo:
        problems.append(f"not well-formed: {d.bozo_exception!r}")
    expected_version = {"atom": "atom10", "rss": "rss20"}[kind]
    if d.version != expected_version:
        problems.append(f"version {d.version!r}, expected {expected_version!r}")
    feed = d.feed
    if kind == "atom":
        for key in ("title", "id", "updated"):
            if not feed.get(key):
                problems.append(f"feed lacks <{key}>")
        if not any(l.get("rel") == "self" for l in feed.get("links", [])):
            problems.append("feed lacks <link rel=\"self\">")
        for i, e in enumerate(d.entries):
            for key in ("id", "title", "updated", "link", "published"):
                if not e.get(key):
                    problems.append(f"entry {i} lacks <{key}>")
            if not e.get("author") and not feed.get("author"):
                problems.append(f"entry {i} has no author (RFC 4287 4.1.1)")
    else:
        for key in ("title", "link", "subtitle"):
            if not feed.get(key):
                problems.append(f"channel lacks <{ {'subtitle': 'description'}.get(key, key) }>")
        for i, e in enumerate(d.entries):
            if not (e.get("title") or e.get("summary")):
                problems.append(f"item {i} has neither title nor description")
            for key in ("id", "link", "published"):
                if not e.get(key):
                    problems.append(f"item {i} lacks <{ {'id': 'guid', 'published': 'pubDate'}.get(key, key) }>")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(json.dumps({
        "title": feed.get("title"),
        "entries": [
            {
                "title": e.get("title"),
                "link": e.get("link"),
                "summary": e.get("summary"),
                "tags": [t.get("term") for t in e.get("tags", [])],
                "enclosures": [
                    {"href": x.get("href"), "type": x.get("type"), "length": x.get("length")}
                    for x in e.get("enclosures", [])
                ],
            }
            for e in d.entries
        ],
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
