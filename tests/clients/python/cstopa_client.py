#!/usr/bin/python3
"""Command-line client for the cstopa gRPC services.

Uses the Python stubs that the build generates from the protos (target
cstopa_python_stubs, into build/gen-python) and Debian's python3-grpcio and
python3-protobuf, so run it with /usr/bin/python3:

  /usr/bin/python3 tests/clients/python/cstopa_client.py get-state states/kz
  /usr/bin/python3 tests/clients/python/cstopa_client.py list-roles \\
      --as-of 2022-05-01
  /usr/bin/python3 tests/clients/python/cstopa_client.py --key KEY \\
      create-person demo-person "Demo Person"
  /usr/bin/python3 tests/clients/python/cstopa_client.py call \\
      legislation.SearchDocuments '{"query": "терроризм"}'
  /usr/bin/python3 tests/clients/python/cstopa_client.py call events.WatchEvents
  /usr/bin/python3 tests/clients/python/cstopa_client.py watch-membership \\
      --collection persons --collection roles
  /usr/bin/python3 tests/clients/python/cstopa_client.py state-profile \\
      states/kg --as-of 2023-06-01
  /usr/bin/python3 tests/clients/python/cstopa_client.py dashboard

The named commands cover membership (watch-membership follows its change
stream: one JSON line per message, checkpoints included, each with the
resume_token that --resume-token takes to go on after it) and the gateway's
views (state-profile, person-profile, dashboard, backends);
`call SERVICE.METHOD [JSON]` calls any method of any service (membership,
legislation, events, monitoring, gateway) with a request in protobuf JSON, and
prints each message of a server stream as it arrives.

A gateway view may be partial: it is printed all the same (exit status 0),
and every incomplete section is named on stderr, one line each:
`INCOMPLETE section <section> (service <service>): <CODE>: <message>`.

Results are printed as protobuf JSON with the proto field names. A failed call
prints `ERROR <CODE>: <message>` and the google.rpc.Status details to stderr
and exits with status 1; bad usage exits with status 2.

Environment: CSTOPA_<SERVICE>_TARGET (default for --target, e.g.
CSTOPA_MEMBERSHIP_TARGET; otherwise 127.0.0.1 on the service's default port),
CSTOPA_API_KEY (default for --key), CSTOPA_PY_STUBS (default for --stubs).
"""

import argparse
import os
import re
import sys
import uuid

DEFAULT_TARGET = "127.0.0.1:50051"
# service -> (full gRPC service name, default port)
SERVICES = {
    "gateway": ("cstopa.gateway.v1.GatewayService", 50050),
    "membership": ("cstopa.membership.v1.MembershipService", 50051),
    "legislation": ("cstopa.legislation.v1.LegislationService", 50052),
    "events": ("cstopa.events.v1.EventsService", 50053),
    "monitoring": ("cstopa.monitoring.v1.MonitoringService", 50054),
}
DEFAULT_TIMEOUT = 10.0
REPO_ROOT = os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
DEFAULT_STUBS = os.path.join(REPO_ROOT, "build", "gen-python")
REQUEST_ID_HEADER = "x-request-id"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# Upper bound on pages fetched by --all, against a server that never ends.
MAX_PAGES = 10000


class UsageError(Exception):
    """A problem with the command line or the environment (exit status 2)."""


# ---------------------------------------------------------------------------
# Stubs
# ---------------------------------------------------------------------------


def load_stubs(stubs_dir):
    """Imports grpc and the generated modules; returns them in a namespace."""
    # pylint: disable=import-outside-toplevel
    try:
        import grpc
        from google.protobuf import json_format
    except ImportError as e:
        raise UsageError(
            f"{e}: run this with Debian's /usr/bin/python3 (packages "
            f"python3-grpcio and python3-protobuf), not {sys.executable}"
        ) from e
    marker = os.path.join(stubs_dir, "cstopa", "membership", "v1",
                          "membership_pb2_grpc.py")
    if not os.path.isfile(marker):
        raise UsageError(
            f"no generated Python stubs in {stubs_dir}; build them with "
            f"`ninja -C build cstopa_python_stubs` or point --stubs / "
            f"CSTOPA_PY_STUBS at them")
    sys.path.insert(0, os.path.abspath(stubs_dir))
    from cstopa.events.v1 import events_pb2  # noqa: F401 (for `call`)
    try:
        from cstopa.gateway.v1 import gateway_pb2
        from cstopa.gateway.v1 import gateway_pb2_grpc
    except ImportError:  # stubs generated before the gateway was added
        gateway_pb2 = gateway_pb2_grpc = None
    from cstopa.legislation.v1 import legislation_pb2  # noqa: F401
    from cstopa.membership.v1 import membership_pb2
    from cstopa.membership.v1 import membership_pb2_grpc
    from cstopa.monitoring.v1 import monitoring_pb2  # noqa: F401
    from cstopa.type.v1 import types_pb2
    from google.protobuf import descriptor_pool
    from google.protobuf import message_factory
    from google.rpc import error_details_pb2
    from google.rpc import status_pb2
    from google.type import date_pb2

    return argparse.Namespace(
        grpc=grpc, json_format=json_format, pool=descriptor_pool.Default(),
        message_factory=message_factory.MessageFactory(), m=membership_pb2,
        m_grpc=membership_pb2_grpc, g=gateway_pb2, g_grpc=gateway_pb2_grpc,
        types=types_pb2,
        error_details=error_details_pb2, status=status_pb2, date=date_pb2)


# ---------------------------------------------------------------------------
# Output and errors
# ---------------------------------------------------------------------------


def to_json(stubs, message, indent=2):
    return stubs.json_format.MessageToJson(
        message, preserving_proto_field_name=True, indent=indent,
        ensure_ascii=False)


def decode_status_details(stubs, trailing_metadata):
    """The google.rpc.Status in `grpc-status-details-bin`, or None."""
    for key, value in trailing_metadata or ():
        if key == STATUS_DETAILS_KEY:
            status = stubs.status.Status()
            status.ParseFromString(value)
            return status
    return None


def describe_details(stubs, status):
    """Human-readable lines for the details of a google.rpc.Status."""
    ed = stubs.error_details
    lines = []
    for any_msg in status.details:
        if any_msg.Is(ed.BadRequest.DESCRIPTOR):
            bad = ed.BadRequest()
            any_msg.Unpack(bad)
            for v in bad.field_violations:
                lines.append(f"  BadRequest: field {v.field}: {v.description}")
            if not bad.field_violations:
                lines.append("  BadRequest: (no field violations)")
        elif any_msg.Is(ed.ErrorInfo.DESCRIPTOR):
            info = ed.ErrorInfo()
            any_msg.Unpack(info)
            line = f"  ErrorInfo: reason={info.reason} domain={info.domain}"
            if info.metadata:
                pairs = (f"{k}={v}" for k, v in sorted(info.metadata.items()))
                line += " metadata={" + ", ".join(pairs) + "}"
            lines.append(line)
        else:
            known = None
            for cls in (ed.RetryInfo, ed.DebugInfo, ed.QuotaFailure,
                        ed.PreconditionFailure, ed.RequestInfo, ed.ResourceInfo,
                        ed.Help, ed.LocalizedMessage):
                if any_msg.Is(cls.DESCRIPTOR):
                    known = cls()
                    any_msg.Unpack(known)
                    break
            if known is not None:
                lines.append(f"  {type(known).__name__}: "
                             f"{to_json(stubs, known, indent=None)}")
            else:
                lines.append(f"  detail of unknown type {any_msg.type_url} "
                             f"({len(any_msg.value)} bytes)")
    return lines


def incomplete_sections(stubs, message):
    """Lines naming each incomplete section of a gateway view (any message
    with a `sections` field of cstopa.gateway.v1.SectionStatus)."""
    field = message.DESCRIPTOR.fields_by_name.get("sections")
    if (field is None or field.message_type is None or
            field.message_type.full_name !=
            "cstopa.gateway.v1.SectionStatus"):
        return []
    codes = {c.value[0]: c.name for c in stubs.grpc.StatusCode}
    lines = []
    for section in message.sections:
        if section.complete:
            continue
        code = codes.get(section.status.code, str(section.status.code))
        lines.append(f"INCOMPLETE section {section.section} "
                     f"(service {section.service}): {code}: "
                     f"{section.status.message}")
        lines.extend(describe_details(stubs, section.status))
    return lines


def report_rpc_error(stubs, err, target):
    """Prints a failed call to stderr."""
    code = err.code()
    name = code.name if code is not None else "UNKNOWN"
    print(f"ERROR {name}: {err.details()}", file=sys.stderr)
    try:
        trailing = err.trailing_metadata()
    except Exception:  # pylint: disable=broad-except
        trailing = None
    status = None
    try:
        status = decode_status_details(stubs, trailing)
    except Exception as e:  # pylint: disable=broad-except
        print(f"  (undecodable {STATUS_DETAILS_KEY}: {e})", file=sys.stderr)
    if status is not None:
        for line in describe_details(stubs, status):
            print(line, file=sys.stderr)
    if code == stubs.grpc.StatusCode.UNAVAILABLE:
        print(f"  (is the server running at {target}? see --target)",
              file=sys.stderr)


# ---------------------------------------------------------------------------
# Calls
# ---------------------------------------------------------------------------


class Client:
    """One channel and the call options every command shares."""

    def __init__(self, stubs, args):
        self.stubs = stubs
        self.args = args
        grpc = stubs.grpc
        if args.tls:
            def read(path):
                if not path:
                    return None
                with open(path, "rb") as f:
                    return f.read()
            creds = grpc.ssl_channel_credentials(
                root_certificates=read(args.ca_cert),
                private_key=read(args.client_key),
                certificate_chain=read(args.client_cert))
            self.channel = grpc.secure_channel(args.target, creds)
        else:
            self.channel = grpc.insecure_channel(args.target)
        if getattr(args, "service", "membership") == "gateway":
            if stubs.g_grpc is None:
                raise UsageError(
                    f"no gateway stubs in {args.stubs}; rebuild them with "
                    f"`ninja -C build cstopa_python_stubs`")
            self.stub = stubs.g_grpc.GatewayServiceStub(self.channel)
        else:
            self.stub = stubs.m_grpc.MembershipServiceStub(self.channel)

    def close(self):
        self.channel.close()

    def metadata(self):
        md = []
        if self.args.key:
            md.append(("authorization", f"Bearer {self.args.key}"))
        if self.args.request_id:
            md.append((REQUEST_ID_HEADER, self.args.request_id))
        return md

    def call(self, method, request):
        """Calls `method` with the shared metadata and timeout."""
        response, call = getattr(self.stub, method).with_call(
            request, timeout=self.args.timeout, metadata=self.metadata())
        if self.args.verbose:
            for kind, md in (("header", call.initial_metadata()),
                             ("trailer", call.trailing_metadata())):
                for key, value in md or ():
                    if not key.endswith("-bin"):
                        print(f"< {kind} {key}: {value}", file=sys.stderr)
        return response

    def list_all(self, method, request, items_field):
        """Calls a List method; with --all follows next_page_token and returns
        one response holding every item."""
        response = self.call(method, request)
        if not getattr(self.args, "all", False):
            return response
        merged = type(response)()
        getattr(merged, items_field).extend(getattr(response, items_field))
        seen = set()
        pages = 1
        while response.next_page_token:
            token = response.next_page_token
            if token in seen or pages >= MAX_PAGES:
                raise RuntimeError(f"paging did not end after {pages} pages")
            seen.add(token)
            request.page_token = token
            response = self.call(method, request)
            getattr(merged, items_field).extend(getattr(response, items_field))
            pages += 1
        return merged


# ---------------------------------------------------------------------------
# Argument helpers
# ---------------------------------------------------------------------------

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def parse_date(text):
    """YYYY-MM-DD (or YYYY-MM, YYYY for partial dates) -> (y, m, d)."""
    m = _DATE_RE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; use YYYY-MM-DD")
    y, mo, d = (int(g) if g else 0 for g in m.groups())
    if mo > 12 or d > 31:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid date")
    return (y, mo, d)


def profile_name(collection):
    """argparse type: `collection/id`, a bare id, or the profile's own name
    `collection/id/profile` -> `collection/id/profile`."""
    def conv(text):
        text = text.strip("/")
        if not text:
            raise argparse.ArgumentTypeError("empty resource name")
        if text.endswith("/profile"):
            text = text[:-len("/profile")]
        if "/" not in text:
            text = f"{collection}/{text}"
        return f"{text}/profile"
    conv.__name__ = f"{collection} name"
    return conv


def resource_name(collection):
    """argparse type: accepts `collection/id` or a bare id."""
    def conv(text):
        if not text:
            raise argparse.ArgumentTypeError("empty resource name")
        if "/" in text:
            return text
        return f"{collection}/{text}"
    conv.__name__ = f"{collection} name"
    return conv


def uuid_arg(text):
    """argparse type: a UUID (an AIP-155 request ID)."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a UUID")


def set_date(stubs, request, field, value):
    if value is not None:
        y, m, d = value
        getattr(request, field).CopyFrom(
            stubs.date.Date(year=y, month=m, day=d))


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


def make_list_request(stubs, args, request_cls, has_as_of):
    req = request_cls(page_size=args.page_size, page_token=args.page_token,
                      filter=args.filter, order_by=args.order_by,
                      show_deleted=args.show_deleted)
    if has_as_of:
        set_date(stubs, req, "as_of", args.as_of)
    return req


# name -> (method, request class name, items field, has as_of, help)
LIST_COMMANDS = {
    "list-states": ("ListStates", "ListStatesRequest", "states", True,
                    "List states."),
    "list-parliaments": ("ListParliaments", "ListParliamentsRequest",
                         "parliaments", False, "List parliaments."),
    "list-delegations": ("ListDelegations", "ListDelegationsRequest",
                         "delegations", True,
                         "List delegations (of all parliaments by default)."),
    "list-persons": ("ListPersons", "ListPersonsRequest", "persons", False,
                     "List persons."),
    "list-roles": ("ListRoles", "ListRolesRequest", "roles", True,
                   "List roles; with --as-of only those held on that date."),
    "list-bodies": ("ListBodies", "ListBodiesRequest", "bodies", False,
                    "List bodies."),
    "list-partners": ("ListPartners", "ListPartnersRequest", "partners", False,
                      "List partners and observers."),
}

# name -> (method, request class name, collection, has as_of, help)
GET_COMMANDS = {
    "get-state": ("GetState", "GetStateRequest", "states", True,
                  "Get a state (states/ID or ID)."),
    "get-parliament": ("GetParliament", "GetParliamentRequest", "parliaments",
                       False, "Get a parliament (parliaments/ID or ID)."),
    "get-delegation": ("GetDelegation", "GetDelegationRequest", None, True,
                       "Get a delegation "
                       "(parliaments/P/delegations/D)."),
    "get-person": ("GetPerson", "GetPersonRequest", "persons", False,
                   "Get a person (persons/ID or ID)."),
    "get-role": ("GetRole", "GetRoleRequest", "roles", False,
                 "Get a role (roles/ID or ID)."),
    "get-body": ("GetBody", "GetBodyRequest", "bodies", False,
                 "Get a body (bodies/ID or ID)."),
    "get-partner": ("GetPartner", "GetPartnerRequest", "partners", False,
                    "Get a partner (partners/ID or ID)."),
}


def run_get(client, args):
    method, req_name, _, has_as_of, _ = GET_COMMANDS[args.command]
    req = getattr(client.stubs.m, req_name)(name=args.name)
    if has_as_of:
        set_date(client.stubs, req, "as_of", args.as_of)
    return client.call(method, req)


def run_list(client, args):
    method, req_name, items, has_as_of, _ = LIST_COMMANDS[args.command]
    req = make_list_request(client.stubs, args,
                            getattr(client.stubs.m, req_name), has_as_of)
    if args.command == "list-delegations":
        req.parent = args.parent
    return client.list_all(method, req, items)


def run_create_person(client, args):
    s = client.stubs
    person = s.m.Person(
        display_name=[s.types.LocalizedText(language_code=args.language,
                                            text=args.display_name)],
        state=args.state or "")
    if args.source:
        person.provenance.add(source=args.source)
    # A request ID (AIP-155) makes the create safe to retry: run again with
    # the same --create-request-id after an ambiguous failure, it answers the
    # person the first run created instead of ALREADY_EXISTS.
    return client.call("CreatePerson", s.m.CreatePersonRequest(
        person_id=args.person_id, person=person,
        request_id=args.create_request_id or str(uuid.uuid4())))


def run_delete_person(client, args):
    return client.call("DeletePerson", client.stubs.m.DeletePersonRequest(
        name=args.name, etag=args.etag or ""))


def run_undelete_person(client, args):
    return client.call("UndeletePerson", client.stubs.m.UndeletePersonRequest(
        name=args.name, etag=args.etag or ""))


def run_watch_membership(client, args):
    """Prints each message of a WatchMembership stream as one JSON line, until
    --changes changes came (0: until interrupted), or the --timeout."""
    req = client.stubs.m.WatchMembershipRequest(
        resume_token=args.resume_token, collections=args.collection,
        name=args.name)
    timeout = args.timeout if args.timeout_given else None
    stream = client.stub.WatchMembership(req, timeout=timeout,
                                         metadata=client.metadata())
    changes = 0
    try:
        for message in stream:
            print(to_json(client.stubs, message, indent=None), flush=True)
            if message.change_type != client.stubs.m.CHANGE_TYPE_CHECKPOINT:
                changes += 1
                if args.changes and changes >= args.changes:
                    break
    finally:
        stream.cancel()
    return None


def run_state_profile(client, args):
    req = client.stubs.g.GetStateProfileRequest(name=args.name)
    set_date(client.stubs, req, "as_of", args.as_of)
    return client.call("GetStateProfile", req)


def run_person_profile(client, args):
    return client.call("GetPersonProfile",
                       client.stubs.g.GetPersonProfileRequest(name=args.name))


def run_dashboard(client, args):
    req = client.stubs.g.GetAssemblyDashboardRequest(name="dashboard")
    set_date(client.stubs, req, "as_of", args.as_of)
    return client.call("GetAssemblyDashboard", req)


def run_backends(client, args):  # pylint: disable=unused-argument
    return client.call("ListBackends", client.stubs.g.ListBackendsRequest())


# Named commands answered by the gateway rather than by membership.
GATEWAY_COMMANDS = ("state-profile", "person-profile", "dashboard",
                    "backends")


def resolve_method(stubs, spec):
    """`service.Method` or `package.Service/Method` -> (path, descriptor)."""
    if "/" in spec:
        service_name, method_name = spec.lstrip("/").split("/", 1)
    elif "." in spec and spec.split(".", 1)[0] in SERVICES:
        short, method_name = spec.split(".", 1)
        service_name = SERVICES[short][0]
    else:
        raise UsageError(
            f"{spec!r} is not SERVICE.Method (SERVICE one of "
            f"{', '.join(SERVICES)}) or package.Service/Method")
    try:
        service = stubs.pool.FindServiceByName(service_name)
    except KeyError as e:
        raise UsageError(f"unknown service {service_name}") from e
    method = service.methods_by_name.get(method_name)
    if method is None:
        raise UsageError(
            f"{service_name} has no method {method_name}; it has "
            f"{', '.join(sorted(service.methods_by_name))}")
    return f"/{service_name}/{method_name}", method


def run_call(client, args):
    s = client.stubs
    path, method = resolve_method(s, args.method)
    request_cls = s.message_factory.GetPrototype(method.input_type)
    response_cls = s.message_factory.GetPrototype(method.output_type)
    try:
        request = s.json_format.Parse(args.json, request_cls())
    except s.json_format.ParseError as e:
        raise UsageError(f"the request is not a valid "
                         f"{method.input_type.full_name} in JSON: {e}") from e
    if method.server_streaming:
        rpc = client.channel.unary_stream(
            path, request_serializer=request_cls.SerializeToString,
            response_deserializer=response_cls.FromString)
        # A stream runs until interrupted (Ctrl-C) unless --timeout is set.
        timeout = args.timeout if args.timeout_given else None
        for message in rpc(request, timeout=timeout,
                           metadata=client.metadata()):
            print(to_json(s, message, indent=None), flush=True)
        return None
    rpc = client.channel.unary_unary(
        path, request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString)
    return rpc(request, timeout=args.timeout, metadata=client.metadata())


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def add_global_options(p, suppress):
    """Options accepted before or after the command. On subcommands their
    defaults are suppressed so they do not override the main parser's."""
    def d(value):
        return argparse.SUPPRESS if suppress else value
    env = os.environ
    p.add_argument("--target", default=d(None),
                   help="server host:port (env CSTOPA_<SERVICE>_TARGET; "
                        "default 127.0.0.1 on the service's port, "
                        f"{DEFAULT_TARGET} for membership)")
    p.add_argument("--key", default=d(env.get("CSTOPA_API_KEY")),
                   help="API key, sent as `authorization: Bearer KEY`; needed "
                        "for writes (env CSTOPA_API_KEY)")
    p.add_argument("--request-id", default=d(None),
                   help=f"request ID, sent as `{REQUEST_ID_HEADER}` metadata")
    p.add_argument("--timeout", type=float, default=d(None),
                   help=f"seconds per call (default {DEFAULT_TIMEOUT:g}; "
                        "streams: none)")
    p.add_argument("--stubs", default=d(env.get("CSTOPA_PY_STUBS",
                                                DEFAULT_STUBS)),
                   help="directory of the generated Python stubs "
                        "(env CSTOPA_PY_STUBS; default "
                        "<repo>/build/gen-python)")
    p.add_argument("--tls", action="store_true", default=d(False),
                   help="use TLS instead of plaintext")
    p.add_argument("--ca-cert", default=d(None),
                   help="PEM CA bundle for --tls (default: system roots)")
    p.add_argument("--client-cert", default=d(None),
                   help="PEM client certificate for mutual TLS")
    p.add_argument("--client-key", default=d(None),
                   help="PEM client private key for mutual TLS")
    p.add_argument("-v", "--verbose", action="store_true", default=d(False),
                   help="print response metadata to stderr")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="cstopa_client.py",
        description="Calls the cstopa services (membership by default, the "
                    "gateway for its views, any service with `call`) and "
                    "prints the result as protobuf JSON.",
        epilog="Resource names may be given as collection/ID or as a bare ID "
               "where the collection is clear (e.g. `get-state kz`).")
    add_global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                required=True)

    def command(name, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_global_options(p, suppress=True)
        return p

    for name, (_, _, collection, has_as_of, help_text) in GET_COMMANDS.items():
        p = command(name, help_text)
        p.add_argument("name", metavar="NAME",
                       type=resource_name(collection) if collection else str)
        if has_as_of:
            p.add_argument("--as-of", type=parse_date, metavar="YYYY-MM-DD",
                           help="date for time-bounded fields "
                                "(default today, UTC)")
        p.set_defaults(run=run_get)

    for name, (_, _, _, has_as_of, help_text) in LIST_COMMANDS.items():
        p = command(name, help_text)
        if name == "list-delegations":
            p.add_argument("--parent", default="parliaments/-",
                           type=resource_name("parliaments"),
                           help="parliaments/ID, or parliaments/- "
                                "(default) for all")
        p.add_argument("--filter", default="", help="AIP-160 filter")
        p.add_argument("--order-by", default="", help="e.g. `name desc`")
        p.add_argument("--page-size", type=int, default=0,
                       help="results per page (server default 50)")
        p.add_argument("--page-token", default="",
                       help="next_page_token of a previous call")
        p.add_argument("--all", action="store_true",
                       help="follow next_page_token and print every result")
        p.add_argument("--show-deleted", action="store_true",
                       help="include soft-deleted resources")
        if has_as_of:
            p.add_argument("--as-of", type=parse_date, metavar="YYYY-MM-DD",
                           help="date for time-bounded fields")
        p.set_defaults(run=run_list)

    p = command("create-person", "Create a person (needs an editor key).")
    p.add_argument("person_id", metavar="ID", help="ID of the new person")
    p.add_argument("display_name", metavar="DISPLAY_NAME", help="full name")
    p.add_argument("--language", default="en",
                   help="BCP 47 language of DISPLAY_NAME (default en)")
    p.add_argument("--state", type=resource_name("states"),
                   help="state the person represents, states/ID")
    p.add_argument("--source", help="provenance: source document")
    p.add_argument("--create-request-id", type=uuid_arg, metavar="UUID",
                   help="the create's request_id (AIP-155), to retry one "
                        "whose outcome is unknown (default: a new UUID; "
                        "--request-id is the x-request-id metadata)")
    p.set_defaults(run=run_create_person)

    p = command("delete-person", "Soft-delete a person (needs an admin key).")
    p.add_argument("name", metavar="NAME", type=resource_name("persons"))
    p.add_argument("--etag", help="only delete if the etag still matches")
    p.set_defaults(run=run_delete_person)

    p = command("undelete-person",
                "Restore a soft-deleted person (needs an admin key).")
    p.add_argument("name", metavar="NAME", type=resource_name("persons"))
    p.add_argument("--etag", help="only undelete if the etag still matches")
    p.set_defaults(run=run_undelete_person)

    p = command("watch-membership",
                "Follow every membership change: one JSON line per message "
                "(the first a checkpoint), until Ctrl-C, --changes N or "
                "--timeout.")
    p.add_argument("--resume-token", default="",
                   help="resume after the message that carried this "
                        "resume_token (default: from now)")
    p.add_argument("--collection", action="append", default=[],
                   metavar="COLLECTION",
                   help="only changes of this collection (states, "
                        "parliaments, delegations, persons, roles, bodies, "
                        "partners); repeatable")
    p.add_argument("--name", default="",
                   help="only changes of this record, e.g. persons/ID")
    p.add_argument("--changes", type=int, default=0, metavar="N",
                   help="stop after N changes (checkpoints not counted; "
                        "default 0: never)")
    p.set_defaults(run=run_watch_membership)

    p = command("state-profile",
                "Gateway: a state's profile (states/ID or ID) on a date; "
                "incomplete sections are named on stderr.")
    p.add_argument("name", metavar="NAME", type=profile_name("states"))
    p.add_argument("--as-of", type=parse_date, metavar="YYYY-MM-DD",
                   help="date for status, seats and posts (default today, "
                        "UTC)")
    p.set_defaults(run=run_state_profile)

    p = command("person-profile",
                "Gateway: a person's profile (persons/ID or ID); incomplete "
                "sections are named on stderr.")
    p.add_argument("name", metavar="NAME", type=profile_name("persons"))
    p.set_defaults(run=run_person_profile)

    p = command("dashboard",
                "Gateway: the assembly at a glance on a date; incomplete "
                "sections are named on stderr.")
    p.add_argument("--as-of", type=parse_date, metavar="YYYY-MM-DD",
                   help="date for statuses, seats and events (default "
                        "today, UTC)")
    p.set_defaults(run=run_dashboard)

    p = command("backends",
                "Gateway: the backends it calls, with their state.")
    p.set_defaults(run=run_backends)

    p = command("call", "Call any method of any service with a JSON request; "
                        "a server stream prints one JSON line per message.")
    p.add_argument("method", metavar="SERVICE.METHOD",
                   help="e.g. legislation.SearchDocuments, events.WatchEvents,"
                        " monitoring.SummarizeMissions")
    p.add_argument("json", metavar="JSON", nargs="?", default="{}",
                   help="the request in protobuf JSON (default {})")
    p.set_defaults(run=run_call)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.timeout_given = args.timeout is not None
    if args.timeout is None:
        args.timeout = DEFAULT_TIMEOUT
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    service = "membership"
    if args.command in GATEWAY_COMMANDS:
        service = "gateway"
    elif args.command == "call":
        service = args.method.lstrip("/").split(".", 1)[0]
        for short, (full, _) in SERVICES.items():
            if args.method.lstrip("/").startswith(full + "/"):
                service = short
    args.service = service
    if args.target is None:
        _, port = SERVICES.get(service, SERVICES["membership"])
        args.target = os.environ.get(f"CSTOPA_{service.upper()}_TARGET",
                                     f"127.0.0.1:{port}")
    try:
        stubs = load_stubs(args.stubs)
    except UsageError as e:
        print(f"cstopa_client.py: {e}", file=sys.stderr)
        return 2
    try:
        client = Client(stubs, args)
    except (OSError, UsageError) as e:
        print(f"cstopa_client.py: {e}", file=sys.stderr)
        return 2
    try:
        response = args.run(client, args)
    except stubs.grpc.RpcError as e:
        report_rpc_error(stubs, e, args.target)
        return 1
    except RuntimeError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    except UsageError as e:
        print(f"cstopa_client.py: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        client.close()
    if response is not None:
        print(to_json(stubs, response), flush=True)
        for line in incomplete_sections(stubs, response):
            print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.stdout.reconfigure(errors="backslashreplace")
    except AttributeError:
        pass
    sys.exit(main())
