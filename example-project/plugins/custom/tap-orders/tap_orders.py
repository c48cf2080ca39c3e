#!/usr/bin/env python3
"""tap-orders: the example project's own Singer tap (standard library only).

Reads `orders.csv` and `customers.csv` from `data_dir` and emits them as Singer streams,
incrementally: each stream's bookmark is the highest `updated_at` seen, and only rows updated
after it (and after `start_date`) are emitted. Supports --discover, --catalog and --state.
"""
import argparse
import csv
import json
import os
import sys

STREAMS = {
    "orders": {
        "id": {"type": "integer"},
        "customer_id": {"type": "integer"},
        "amount": {"type": "number"},
        "status": {"type": "string"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
    "customers": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "email": {"type": "string"},
        "internal_note": {"type": ["null", "string"]},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
CASTS = {"integer": int, "number": float}


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")


def catalog():
    streams = []
    for name, props in STREAMS.items():
        metadata = [{"breadcrumb": [], "metadata": {
            "inclusion": "available", "selected-by-default": True,
            "table-key-properties": ["id"], "valid-replication-keys": ["updated_at"],
            "forced-replication-method": "INCREMENTAL"}}]
        for prop in props:
            inclusion = "automatic" if prop in ("id", "updated_at") else "available"
            metadata.append({"breadcrumb": ["properties", prop], "metadata": {"inclusion": inclusion}})
        streams.append({"tap_stream_id": name, "stream": name,
                        "schema": {"type": "object", "properties": props},
                        "key_properties": ["id"], "metadata": metadata})
    return {"streams": streams}


def selection(cat):
    """Selected streams and, for each, its selected properties."""
    chosen = {}
    for stream in cat["streams"]:
        md = {tuple(m["breadcrumb"]): m["metadata"] for m in stream.get("metadata", [])}
        top = md.get((), {})
        if not top.get("selected", top.get("selected-by-default", False)):
            continue
        props = [p for p in stream["schema"]["properties"]
                 if md.get(("properties", p), {}).get("inclusion") == "automatic"
                 or md.get(("properties", p), {}).get("selected", True)]
        chosen[stream["tap_stream_id"]] = props
    return chosen


def cast(value, schema):
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if value == "" and "null" in kinds:
        return None
    for kind in kinds:
        if kind in CASTS:
            return CASTS[kind](value)
    return value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--state")
    parser.add_argument("--catalog")
    parser.add_argument("--discover", action="store_true")
    args = parser.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    if args.discover:
        json.dump(catalog(), sys.stdout, indent=2)
        return
    cat = catalog()
    if args.catalog:
        with open(args.catalog) as f:
            cat = json.load(f)
    state = {}
    if args.state:
        with open(args.state) as f:
            state = json.load(f)
    bookmarks = state.setdefault("bookmarks", {})
    data_dir = config.get("data_dir") or "data"
    start = config.get("start_date", "")
    for stream, props in selection(cat).items():
        schema = {p: STREAMS[stream][p] for p in props}
        emit({"type": "SCHEMA", "stream": stream, "key_properties": ["id"],
              "bookmark_properties": ["updated_at"],
              "schema": {"type": "object", "properties": schema}})
        since = bookmarks.get(stream, {}).get("updated_at", start)
        newest = since
        count = 0
        with open(os.path.join(data_dir, f"{stream}.csv"), newline="") as f:
            rows = sorted(csv.DictReader(f), key=lambda r: r["updated_at"])
        for row in rows:
            if row["updated_at"] <= since:
                continue
            record = {p: cast(row[p], STREAMS[stream][p]) for p in props}
            emit({"type": "RECORD", "stream": stream, "record": record})
            newest = max(newest, row["updated_at"])
            count += 1
        bookmarks[stream] = {"updated_at": newest}
        emit({"type": "STATE", "value": state})
        print(f"tap-orders: {stream}: {count} new rows since {since}", file=sys.stderr)


if __name__ == "__main__":
    main()
