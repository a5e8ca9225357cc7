#!/usr/bin/env python3
"""Every ErrorInfo reason a service can send is in its proto's ErrorReason.

AIP-193: each service has its own error domain (<service>.cstopa.org, set
at the gRPC edge, services/common/server/grpc_binding.cc) and lists the
reasons it sends in an `ErrorReason` enum. This test reads the reasons from
the code that makes errors, the way a reviewer would:

  ErrorWithInfo(code, "REASON", ...)    InvalidArgument("REASON", {...})
  violations.ToStatus("REASON")         Unauthenticated("REASON", ...)
  EtagMismatch(...)  -> ETAG_MISMATCH   DefaultReason's codes (base/errors.cc)

in the sources each service is built from, and fails when one is missing
from that service's enum, or when an error is made with a reason that is
not a literal (so it could not be checked). Reasons only start-up sends
(a bad key file or seed stops the process) are not part of the API.

  tests/error_reasons_test.py <source root>
"""

import os
import re
import sys

# The sources whose errors each service sends (directories or files).
COMMON = ["services/common/base", "services/common/server",
          "services/common/api", "services/common/query"]
STORE = ["services/common/store", "services/common/resources",
         "services/common/text"]
SERVICES = {
    "membership": COMMON + STORE + ["services/membership"],
    "legislation": COMMON + STORE + ["services/legislation"],
    "events": COMMON + STORE + ["services/events"],
    "monitoring": COMMON + STORE + ["services/monitoring"],
    # The gateway has no store or keys: name checks (query/validation),
    # search words and page tokens (Search), and its own; what it passes on from a backend keeps the backend's domain.
    "gateway": ["services/common/base", "services/common/server",
                "services/common/query/validation.cc",
                "services/common/query/paging.cc", "services/common/text",
                "gateway"],
}
STARTUP_ONLY = {"INVALID_KEY_FILE", "INVALID_SEED"}
# Functions that pass a reason they were given on to ErrorWithInfo; their
# callers' literals are read instead.
FORWARDERS = {"services/common/api/auth.cc": "Unauthenticated"}

REASON = r'"([A-Z][A-Z0-9_]*)"'
PATTERNS = [
    re.compile(r"\bErrorWithInfo\(\s*[\w:]+\s*,\s*" + REASON),
    re.compile(r"\bInvalidArgument\(\s*" + REASON),
    re.compile(r"\.ToStatus\(\s*" + REASON + r"\s*\)"),
    re.compile(r"\bUnauthenticated\(\s*" + REASON),
]
ANY_ERROR_WITH_INFO = re.compile(r"\bErrorWithInfo\(\s*[\w:]+\s*,\s*([^,]+),")
DEFAULT_REASON = re.compile(r'case absl::StatusCode::k\w+:\s*return ' + REASON)


def strip_comments(text):
    return re.sub(r"//[^\n]*", "", text)


def sources(root, paths):
    for p in paths:
        full = os.path.join(root, p)
        if os.path.isfile(full):
            yield p
            continue
        for dirpath, _, files in os.walk(full):
            for f in sorted(files):
                if not f.endswith((".cc", ".h")) or "_test" in f:
                    continue
                yield os.path.relpath(os.path.join(dirpath, f), root)


def reasons_in(root, rel, problems):
    text = strip_comments(open(os.path.join(root, rel), encoding="utf-8").read())
    found = set()
    if rel == "services/common/base/errors.h":
        return found  # declarations
    if rel == "services/common/base/errors.cc":
        # The definitions: the reasons from codes (errors without details);
        # the named helpers count where they are called.
        found |= set(DEFAULT_REASON.findall(text))
        found.add("INVALID_ARGUMENT")  # InvalidArgument(field, description)
        return found
    for pattern in PATTERNS:
        found |= set(pattern.findall(text))
    if re.search(r"\bEtagMismatch\(", text):
        found.add("ETAG_MISMATCH")
    if re.search(r"\.ToStatus\(\s*\)", text):
        found.add("INVALID_ARGUMENT")
    for arg in ANY_ERROR_WITH_INFO.findall(text):
        arg = arg.strip()
        if re.fullmatch(REASON, arg):
            continue
        if rel in FORWARDERS and arg == "reason":
            continue
        problems.append(f"{rel}: ErrorWithInfo with reason `{arg}`, not a "
                        "literal: make it one, or teach this test where it "
                        "comes from")
    return found


def enum_values(root, service):
    path = os.path.join(root, "proto/cstopa", service, "v1", f"{service}.proto")
    text = open(path, encoding="utf-8").read()
    m = re.search(r"\nenum ErrorReason \{(.*?)\n\}", text, re.S)
    if not m:
        return None, path
    body = strip_comments(m.group(1))
    values = re.findall(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*\d+\s*;", body, re.M)
    return {v for v in values if v != "ERROR_REASON_UNSPECIFIED"}, path


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    problems = []
    sent = {}
    for service, paths in SERVICES.items():
        reasons = set()
        for rel in sources(root, paths):
            reasons |= reasons_in(root, rel, problems)
        sent[service] = reasons - STARTUP_ONLY
        values, path = enum_values(root, service)
        if values is None:
            problems.append(f"{path}: no `enum ErrorReason`")
            continue
        for r in sorted(sent[service] - values):
            problems.append(f"{path}: {service} can send reason {r}, which "
                            "its ErrorReason enum does not list")
    # The reading itself works: reasons of each kind of call are found.
    expected = {
        "membership": {"ETAG_MISMATCH", "MISSING_CREDENTIALS", "INVALID_FILTER",
                       "UNKNOWN_REFERENCE", "WATCHER_TOO_SLOW", "INVALID_NAME",
                       "RESOURCE_NOT_FOUND", "INVALID_REQUEST", "UNAVAILABLE"},
        "legislation": {"INVALID_STAGE_TRANSITION", "NOT_A_PARTY",
                        "INVALID_SEARCH_QUERY"},
        "gateway": {"INVALID_NAME", "INVALID_REQUEST", "UNAVAILABLE"},
    }
    for service, must in expected.items():
        for r in sorted(must - sent[service]):
            problems.append(f"test self-check: {r} not found in {service}'s "
                            "sources; the patterns above miss it")
    if "ETAG_MISMATCH" in sent["gateway"]:
        problems.append("test self-check: the gateway has no etags")
    for p in problems:
        print(p)
    if problems:
        return 1
    for service in SERVICES:
        print(f"{service}: {len(sent[service])} reasons, all in ErrorReason")
    return 0


if __name__ == "__main__":
    sys.exit(main())
