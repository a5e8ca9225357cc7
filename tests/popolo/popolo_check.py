"""Checks a Popolo JSON document (as `GET /v1/export?format=popolo` writes
it, gateway/http/popolo.h) against Popolo's JSON schemas and for what the
schemas cannot say.

    problems = popolo_check.problems(document)   # [] when it is valid

- Each object of `persons`, `organizations`, `posts`, `memberships` and
  `events` against its class's schema (schemas/: draft 3, as the Popolo
  specification publishes them), formats checked (a source's `url` must be
  a URI, times RFC 3339).
- Every id unique within its class; every reference resolves: a
  membership's person_id, organization_id, post_id, on_behalf_of_id and
  member; a post's organization_id; an organization's parent_id; an
  event's organization_id, parent_id and attendees' ids.
- With `require_sources`: every object has at least one source, but those
  whose ids are in `unsourced` (records written without provenance).

Runs with Debian's python3-jsonschema and python3-rfc3987 (the
`/usr/bin/python3` interpreter).
"""

import datetime
import json
import os

import jsonschema

SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")
BASE = "http://www.popoloproject.com/schemas/"
CLASSES = {"persons": "person", "organizations": "organization",
           "posts": "post", "memberships": "membership", "events": "event"}
TIME_FIELDS = ("created_at", "updated_at")


def _store():
    store = {}
    for name in os.listdir(SCHEMAS):
        if name.endswith(".json"):
            with open(os.path.join(SCHEMAS, name), encoding="utf-8") as f:
                schema = json.load(f)
            store[schema["id"]] = schema
            store[schema["id"].rstrip("#")] = schema
    return store


def validators():
    """Class name ("person") -> a draft-3 validator with format checks."""
    store = _store()
    out = {}
    for collection, cls in CLASSES.items():
        schema = store[BASE + cls + ".json#"]
        resolver = jsonschema.RefResolver.from_schema(schema, store=store)
        out[collection] = jsonschema.Draft3Validator(
            schema, resolver=resolver,
            format_checker=jsonschema.draft3_format_checker)
    return out


def _is_time(text):
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return text.endswith("Z") or "+" in text[10:] or "-" in text[10:]
    except ValueError:
        return False


def problems(document, require_sources=True, unsourced=()):
    """Every problem found in `document` (a parsed Popolo JSON object), as
    lines naming the object; [] when there is none."""
    found = []
    check = validators()
    ids = {}
    for collection in CLASSES:
        items = document.get(collection)
        if not isinstance(items, list):
            found.append("%s: missing or not an array" % collection)
            continue
        ids[collection] = set()
        for i, item in enumerate(items):
            where = "%s[%d] (%s)" % (collection, i, item.get("id"))
            for error in check[collection].iter_errors(item):
                found.append("%s: %s at %s" % (
                    where, error.message, "/".join(map(str, error.path))))
            if not item.get("id"):
                found.append("%s: no id" % where)
            elif item["id"] in ids[collection]:
                found.append("%s: id used twice" % where)
            ids[collection].add(item.get("id"))
            for field in TIME_FIELDS:
                if field in item and not _is_time(item[field]):
                    found.append("%s: %s is not an RFC 3339 time: %r" % (
                        where, field, item[field]))
            if (require_sources and not item.get("sources") and
                    item.get("id") not in unsourced):
                found.append("%s: no sources" % where)
    if found:
        return found

    def resolves(where, field, value, collection):
        if value and value not in ids[collection]:
            found.append("%s: %s %s is not among the %s" % (
                where, field, value, collection))

    for i, o in enumerate(document["organizations"]):
        where = "organizations[%d] (%s)" % (i, o["id"])
        resolves(where, "parent_id", o.get("parent_id"), "organizations")
    for i, p in enumerate(document["posts"]):
        where = "posts[%d] (%s)" % (i, p["id"])
        resolves(where, "organization_id", p.get("organization_id"),
                 "organizations")
    for i, m in enumerate(document["memberships"]):
        where = "memberships[%d] (%s)" % (i, m["id"])
        resolves(where, "person_id", m.get("person_id"), "persons")
        resolves(where, "organization_id", m.get("organization_id"),
                 "organizations")
        resolves(where, "post_id", m.get("post_id"), "posts")
        resolves(where, "on_behalf_of_id", m.get("on_behalf_of_id"),
                 "organizations")
        member = m.get("member")
        if member:
            kind = {"Person": "persons", "Organization": "organizations"}.get(
                member.get("@type"))
            if kind is None:
                found.append("%s: member of unknown @type %r" % (
                    where, member.get("@type")))
            else:
                resolves(where, "member", member.get("id"), kind)
        if not m.get("person_id") and not member:
            found.append("%s: neither person_id nor member" % where)
        if not m.get("organization_id"):
            found.append("%s: no organization_id" % where)
    for i, e in enumerate(document["events"]):
        where = "events[%d] (%s)" % (i, e["id"])
        resolves(where, "organization_id", e.get("organization_id"),
                 "organizations")
        resolves(where, "parent_id", e.get("parent_id"), "events")
        for a in e.get("attendees", []):
            resolves(where, "attendee", a.get("id"), "persons")
            if not a.get("name"):
                found.append("%s: an attendee without a name" % where)
    return found
