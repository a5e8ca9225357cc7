#!/usr/bin/python3
"""Asks the gateway for its views, over and over, and counts failed ones.

Used by tests/containers/rehearse.sh while replicas of the services are
stopped and started again. A view fails when the call fails or when any of
its sections is incomplete (a backend did not answer). Each view asks for a
different date where the view takes one, so that most views are built from
the backends rather than served from the gateway's cache.

  views_probe.py --target 127.0.0.1:50050 --seconds 20 [--stop-file F]
      [--min-views N]
  views_probe.py --target 127.0.0.1:50051 --call membership

With --call SERVICE it makes one real call of that service instead (a read
of the seed: GetState, SearchDocuments, ListEvents, SummarizeMissions) and
exits 0 when it answered with data.

Runs for --seconds, or until --stop-file exists (checked between views),
then prints one summary line and exits 0 when no view failed and at least
--min-views were answered, 1 otherwise (each failure is printed).
Needs the generated Python stubs (build/gen-python, or CSTOPA_PY_STUBS).
"""

import argparse
import datetime
import importlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))
import cstopa_client  # noqa: E402  pylint: disable=wrong-import-position


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--target", required=True)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--stop-file", default="")
    p.add_argument("--min-views", type=int, default=1)
    p.add_argument("--deadline", type=float, default=5.0)
    p.add_argument("--call", default="",
                   choices=["", "membership", "legislation", "events",
                            "monitoring"])
    p.add_argument("--stubs", default=os.environ.get(
        "CSTOPA_PY_STUBS", cstopa_client.DEFAULT_STUBS))
    args = p.parse_args()

    stubs = cstopa_client.load_stubs(args.stubs)
    grpc, g = stubs.grpc, stubs.g
    channel = grpc.insecure_channel(args.target)
    if args.call:
        return one_call(args, grpc, channel)
    stub = stubs.g_grpc.GatewayServiceStub(channel)
    day0 = datetime.date(2021, 1, 1)

    def as_of(i):
        d = day0 + datetime.timedelta(days=i % 1400)
        return stubs.date.Date(year=d.year, month=d.month, day=d.day)

    views = [
        ("GetStateProfile", lambda i: stub.GetStateProfile(
            g.GetStateProfileRequest(name="states/kz/profile", as_of=as_of(i)),
            timeout=args.deadline)),
        ("GetAssemblyDashboard", lambda i: stub.GetAssemblyDashboard(
            g.GetAssemblyDashboardRequest(name="dashboard", as_of=as_of(i)),
            timeout=args.deadline)),
        ("GetPersonProfile", lambda i: stub.GetPersonProfile(
            g.GetPersonProfileRequest(
                name="persons/nurlanbek-shakiev/profile"),
            timeout=args.deadline)),
    ]
    answered = failed = 0
    end = time.monotonic() + args.seconds
    i = 0
    while time.monotonic() < end:
        if args.stop_file and os.path.exists(args.stop_file):
            break
        name, call = views[i % len(views)]
        try:
            response = call(i // len(views))
            lines = cstopa_client.incomplete_sections(stubs, response)
            if lines:
                failed += 1
                print(f"FAILED view {name}: " + "; ".join(lines),
                      file=sys.stderr, flush=True)
            else:
                answered += 1
        except grpc.RpcError as e:
            failed += 1
            print(f"FAILED view {name}: {e.code().name}: {e.details()}",
                  file=sys.stderr, flush=True)
        i += 1
        time.sleep(0.02)
    channel.close()
    print(f"views: {answered} answered, {failed} failed", flush=True)
    return 0 if failed == 0 and answered >= args.min_views else 1


CALLS = {
    "membership": ("MembershipService", "GetState", "GetStateRequest",
                   {"name": "states/kz"}, "name"),
    "legislation": ("LegislationService", "SearchDocuments",
                    "SearchDocumentsRequest", {"query": "outer space"},
                    "results"),
    "events": ("EventsService", "ListEvents", "ListEventsRequest",
               {"page_size": 5}, "events"),
    "monitoring": ("MonitoringService", "SummarizeMissions",
                   "SummarizeMissionsRequest", {}, None),
}


def one_call(args, grpc, channel):
    """One read of the seed through `args.call`'s own stubs."""
    service, method, request, fields, must_have = CALLS[args.call]
    pb2 = importlib.import_module(
        f"cstopa.{args.call}.v1.{args.call}_pb2")
    pb2_grpc = importlib.import_module(
        f"cstopa.{args.call}.v1.{args.call}_pb2_grpc")
    stub = getattr(pb2_grpc, service + "Stub")(channel)
    try:
        response = getattr(stub, method)(
            getattr(pb2, request)(**fields), timeout=args.deadline)
    except grpc.RpcError as e:
        print(f"{args.call}.{method}: {e.code().name}: {e.details()}",
              file=sys.stderr)
        return 1
    if must_have and not getattr(response, must_have):
        print(f"{args.call}.{method}: answered without {must_have}: "
              f"{response}", file=sys.stderr)
        return 1
    print(f"{args.call}.{method}: answered ({response.ByteSize()} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
