#!/usr/bin/python3
"""Calls the real membership server through Python stubs generated from the
protos, and through the cstopa_client.py command line: reads, writes, errors
with their details, and the WatchMembership change stream.

Run by CTest (test `python_client`), which sets:
  CSTOPA_MEMBERSHIP_SERVER  path of the membership_server binary
  CSTOPA_PY_STUBS           directory of the generated Python stubs
By hand (both also accepted as options):
  /usr/bin/python3 tests/clients/python/test_membership_client.py \\
      --server build/services/membership/membership_server \\
      --stubs build/gen-python [unittest options]

The server runs on free loopback ports with a fresh SQLite store in a
temporary directory; it is stopped with SIGTERM (SIGKILL if it lingers) when
the tests end, whatever happens. Every wait is bounded.
"""

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
CLI = os.path.join(HERE, "cstopa_client.py")

RPC_TIMEOUT = 10  # seconds per call
START_TIMEOUT = 30  # seconds for the server to write its port file
STOP_TIMEOUT = 15  # seconds after SIGTERM before SIGKILL
CLI_TIMEOUT = 60  # seconds per CLI run

# Filled in by main() before the tests run.
SERVER_BIN = None
STUBS_DIR = None
grpc = None
m_pb = None
m_grpc = None
types_pb = None
status_pb = None
error_details_pb = None
date_pb = None


def import_stubs(stubs_dir):
    """Imports grpc and the generated modules from `stubs_dir`."""
    # pylint: disable=import-outside-toplevel,global-statement
    global grpc, m_pb, m_grpc, types_pb, status_pb, error_details_pb, date_pb
    sys.path.insert(0, os.path.abspath(stubs_dir))
    import grpc as grpc_mod
    from cstopa.membership.v1 import membership_pb2
    from cstopa.membership.v1 import membership_pb2_grpc
    from cstopa.type.v1 import types_pb2
    from google.rpc import error_details_pb2
    from google.rpc import status_pb2
    from google.type import date_pb2
    grpc, m_pb, m_grpc, types_pb = (grpc_mod, membership_pb2,
                                    membership_pb2_grpc, types_pb2)
    status_pb, error_details_pb, date_pb = (status_pb2, error_details_pb2,
                                            date_pb2)


def status_details(err):
    """The google.rpc.Status from an RpcError's trailing metadata, or None."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb.Status()
            status.ParseFromString(value)
            return status
    return None


def unpack_details(status, cls):
    """Every detail of type `cls` in a google.rpc.Status."""
    out = []
    for any_msg in status.details:
        if any_msg.Is(cls.DESCRIPTOR):
            msg = cls()
            any_msg.Unpack(msg)
            out.append(msg)
    return out


class MembershipServerTest(unittest.TestCase):
    """One server for the whole class; tests do not depend on each other."""

    proc = None
    tmp = None
    log = None
    target = None
    channel = None
    stub = None
    editor_key = None
    admin_key = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cstopa-pyclient-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.editor_key = secrets.token_hex(32)
        cls.admin_key = secrets.token_hex(32)
        keys = os.path.join(cls.tmp, "keys")
        with open(keys, "w", encoding="ascii") as f:
            for key, role in ((cls.editor_key, "editor"),
                              (cls.admin_key, "admin")):
                digest = hashlib.sha256(key.encode("ascii")).hexdigest()
                f.write(f"sha256:{digest} {role} python-client-test-{role}\n")
        port_file = os.path.join(cls.tmp, "ports.json")
        cls.log = os.path.join(cls.tmp, "server.log")
        args = [
            SERVER_BIN,
            "--listen=127.0.0.1:0",
            "--admin_listen=127.0.0.1:0",
            f"--port_file={port_file}",
            f"--store=sqlite:///{cls.tmp}/m.db",
            "--access_log=off",
            f"--api_keys_file={keys}",
        ]
        with open(cls.log, "wb") as log:
            cls.proc = subprocess.Popen(  # pylint: disable=consider-using-with
                args, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=cls.tmp)
        # Registered right after start so that the server is stopped even
        # when the rest of setUpClass fails (tearDownClass would not run).
        cls.addClassCleanup(cls.stop_server)

        ports = cls.wait_for_port_file(port_file)
        cls.target = f"127.0.0.1:{ports['grpc_port']}"
        cls.channel = grpc.insecure_channel(cls.target)
        cls.addClassCleanup(cls.channel.close)
        grpc.channel_ready_future(cls.channel).result(timeout=RPC_TIMEOUT)
        cls.stub = m_grpc.MembershipServiceStub(cls.channel)

    @classmethod
    def wait_for_port_file(cls, path):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if cls.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with status {cls.proc.returncode} before "
                    f"serving:\n{cls.log_tail()}")
            try:
                with open(path, encoding="utf-8") as f:
                    ports = json.load(f)
                if ports.get("grpc_port"):
                    return ports
            except (OSError, ValueError):
                pass  # not written yet
            time.sleep(0.05)
        raise RuntimeError(f"no port file {path} after {START_TIMEOUT} s:\n"
                           f"{cls.log_tail()}")

    @classmethod
    def stop_server(cls):
        proc = cls.proc
        if proc is None or proc.poll() is not None:
            cls.print_log_tail()
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
            print(f"server ignored SIGTERM for {STOP_TIMEOUT} s; killed",
                  file=sys.stderr)
        if proc.returncode != 0:
            print(f"server exited with status {proc.returncode}",
                  file=sys.stderr)
        cls.print_log_tail()

    @classmethod
    def log_tail(cls, lines=40):
        try:
            with open(cls.log, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no server log)"

    @classmethod
    def print_log_tail(cls):
        # CTest shows this only when the test fails (--output-on-failure).
        print(f"--- server log (tail) ---\n{cls.log_tail()}", file=sys.stderr)

    # -- helpers ------------------------------------------------------------

    def auth(self, key):
        return [("authorization", f"Bearer {key}")]

    def assert_rpc_error(self, code, fn, *args, **kwargs):
        """Calls fn, which must fail with `code`; returns the RpcError."""
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args, timeout=RPC_TIMEOUT, **kwargs)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        return cm.exception

    def error_info(self, err):
        status = status_details(err)
        self.assertIsNotNone(status, "no grpc-status-details-bin")
        infos = unpack_details(status, error_details_pb.ErrorInfo)
        self.assertEqual(len(infos), 1, status)
        return infos[0]

    def run_cli(self, *args, key=None):
        cmd = [sys.executable, CLI, "--target", self.target,
               "--stubs", STUBS_DIR]
        if key:
            cmd += ["--key", key]
        cmd += list(args)
        env = dict(os.environ)
        env.pop("CSTOPA_API_KEY", None)
        return subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=CLI_TIMEOUT, check=False)

    # -- reads --------------------------------------------------------------

    def test_get_state(self):
        state = self.stub.GetState(m_pb.GetStateRequest(name="states/kz"),
                                   timeout=RPC_TIMEOUT)
        self.assertEqual(state.name, "states/kz")
        texts = [t.text for t in state.display_name]
        self.assertTrue(any("Kazakhstan" in t for t in texts), texts)
        self.assertTrue(state.provenance, "no provenance")
        sources = [p.source for p in state.provenance]
        # A seed file's name, e.g. "003_29fe70bcc92e977c.txt".
        self.assertTrue(
            any(re.fullmatch(r"[\w.-]+\.txt", s) for s in sources), sources)
        self.assertTrue(state.etag)
        self.assertTrue(state.HasField("create_time"))

    def test_get_unknown_state_is_not_found(self):
        err = self.assert_rpc_error(
            grpc.StatusCode.NOT_FOUND, self.stub.GetState,
            m_pb.GetStateRequest(name="states/no-such-state"))
        self.assertEqual(self.error_info(err).reason, "RESOURCE_NOT_FOUND")

    def test_list_states(self):
        resp = self.stub.ListStates(m_pb.ListStatesRequest(),
                                    timeout=RPC_TIMEOUT)
        self.assertEqual(len(resp.states), 6,
                         [s.name for s in resp.states])
        self.assertEqual(resp.next_page_token, "")
        names = [s.name for s in resp.states]
        self.assertEqual(names, sorted(names))  # default order: name
        self.assertIn("states/kz", names)

    def test_list_states_in_pages(self):
        names, token, pages = [], "", 0
        while True:
            resp = self.stub.ListStates(
                m_pb.ListStatesRequest(page_size=4, page_token=token),
                timeout=RPC_TIMEOUT)
            names += [s.name for s in resp.states]
            pages += 1
            token = resp.next_page_token
            if not token or pages > 10:
                break
        self.assertEqual(pages, 2)
        self.assertEqual(len(names), 6)
        self.assertEqual(len(set(names)), 6)

    def test_list_roles_as_of(self):
        resp = self.stub.ListRoles(
            m_pb.ListRolesRequest(
                as_of=date_pb.Date(year=2022, month=5, day=1),
                filter="role_type = ROLE_TYPE_PLENIPOTENTIARY_REPRESENTATIVE",
                page_size=1000),
            timeout=RPC_TIMEOUT)
        self.assertEqual(len(resp.roles), 4, [r.name for r in resp.roles])
        for role in resp.roles:
            self.assertEqual(role.role_type,
                             m_pb.ROLE_TYPE_PLENIPOTENTIARY_REPRESENTATIVE)

    # -- writes -------------------------------------------------------------

    def test_create_then_get_person(self):
        person_id = f"py-client-{secrets.token_hex(4)}"
        created = self.stub.CreatePerson(
            m_pb.CreatePersonRequest(
                person_id=person_id,
                person=m_pb.Person(
                    display_name=[types_pb.LocalizedText(
                        language_code="en", text="Python Client Test")],
                    state="states/kz")),
            metadata=self.auth(self.editor_key), timeout=RPC_TIMEOUT)
        self.assertEqual(created.name, f"persons/{person_id}")
        self.assertTrue(created.etag)
        self.assertTrue(created.HasField("create_time"))

        got = self.stub.GetPerson(
            m_pb.GetPersonRequest(name=f"persons/{person_id}"),
            timeout=RPC_TIMEOUT)
        self.assertEqual(got, created)
        self.assertEqual(got.display_name[0].text, "Python Client Test")
        self.assertEqual(got.state, "states/kz")

        # The ID is now taken.
        err = self.assert_rpc_error(
            grpc.StatusCode.ALREADY_EXISTS, self.stub.CreatePerson,
            m_pb.CreatePersonRequest(person_id=person_id, person=got),
            metadata=self.auth(self.editor_key))
        self.assertEqual(self.error_info(err).reason,
                         "RESOURCE_ALREADY_EXISTS")

    def test_write_without_key_is_unauthenticated(self):
        person_id = f"py-no-key-{secrets.token_hex(4)}"
        request = m_pb.CreatePersonRequest(
            person_id=person_id,
            person=m_pb.Person(display_name=[types_pb.LocalizedText(
                language_code="en", text="Nobody")]))
        err = self.assert_rpc_error(grpc.StatusCode.UNAUTHENTICATED,
                                    self.stub.CreatePerson, request)
        self.assertEqual(self.error_info(err).reason, "MISSING_CREDENTIALS")

        err = self.assert_rpc_error(grpc.StatusCode.UNAUTHENTICATED,
                                    self.stub.CreatePerson, request,
                                    metadata=self.auth("not-a-known-key"))
        self.assertEqual(self.error_info(err).reason, "INVALID_API_KEY")

        # Nothing was written.
        self.assert_rpc_error(
            grpc.StatusCode.NOT_FOUND, self.stub.GetPerson,
            m_pb.GetPersonRequest(name=f"persons/{person_id}"))

    def test_invalid_argument_details(self):
        err = self.assert_rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT, self.stub.ListStates,
            m_pb.ListStatesRequest(page_size=-1))
        status = status_details(err)
        self.assertIsNotNone(status, "no grpc-status-details-bin")
        self.assertEqual(status.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertEqual(status.message, err.details())
        bad = unpack_details(status, error_details_pb.BadRequest)
        self.assertEqual(len(bad), 1, status)
        fields = [v.field for v in bad[0].field_violations]
        self.assertIn("page_size", fields)
        for v in bad[0].field_violations:
            self.assertTrue(v.description, v)
        info = self.error_info(err)
        self.assertTrue(info.reason)
        self.assertEqual(info.domain, "membership.cstopa.org")

    # -- the command line ---------------------------------------------------

    def test_cli_get_state(self):
        r = self.run_cli("get-state", "states/kz")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["name"], "states/kz")
        # Proto field names, not lowerCamelCase JSON names.
        self.assertIn("display_name", out)
        self.assertNotIn("displayName", out)
        self.assertTrue(
            any("Kazakhstan" in t["text"] for t in out["display_name"]), out)
        self.assertTrue(out["provenance"][0]["source"])

    def test_cli_call_any_method_with_json(self):
        r = self.run_cli("call", "membership.GetState", '{"name": "states/kz"}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["name"], "states/kz")
        r = self.run_cli("call",
                         "/cstopa.membership.v1.MembershipService/ListStates",
                         '{"page_size": 2}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(json.loads(r.stdout)["states"]), 2)

    def test_cli_call_refuses_unknown_methods_and_bad_json(self):
        r = self.run_cli("call", "membership.NoSuchMethod")
        self.assertEqual(r.returncode, 2)
        self.assertIn("GetState", r.stderr)  # lists the methods there are
        r = self.run_cli("call", "membership.GetState", '{"nme": "x"}')
        self.assertEqual(r.returncode, 2)
        self.assertIn("nme", r.stderr)
        r = self.run_cli("call", "membership.GetState", '{"name": "bad name"}')
        self.assertEqual(r.returncode, 1)
        self.assertIn("INVALID_ARGUMENT", r.stderr)

    def test_cli_list_roles_as_of(self):
        r = self.run_cli(
            "list-roles", "--as-of", "2022-05-01", "--page-size", "1000",
            "--filter", "role_type = ROLE_TYPE_PLENIPOTENTIARY_REPRESENTATIVE")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(len(out["roles"]), 4, out)
        self.assertEqual({x["role_type"] for x in out["roles"]},
                         {"ROLE_TYPE_PLENIPOTENTIARY_REPRESENTATIVE"})

    def test_cli_list_all_follows_pages(self):
        direct = self.stub.ListPersons(m_pb.ListPersonsRequest(page_size=1000),
                                       timeout=RPC_TIMEOUT)
        # More than a page of 2: --all has pages to follow.
        self.assertGreater(len(direct.persons), 4)
        r = self.run_cli("list-persons", "--page-size", "2", "--all")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        cli_names = [p["name"] for p in out.get("persons", [])]
        # Other tests may add persons meanwhile; the seeded ones are there.
        self.assertGreaterEqual(len(cli_names), len(direct.persons))
        self.assertTrue({p.name for p in direct.persons} <= set(cli_names))
        self.assertEqual(len(cli_names), len(set(cli_names)))
        self.assertNotIn("next_page_token", out)

    def test_cli_create_and_delete_person(self):
        person_id = f"py-cli-{secrets.token_hex(4)}"
        r = self.run_cli("create-person", person_id, "Demo Person",
                         key=self.editor_key)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["name"], f"persons/{person_id}")
        self.assertEqual(out["display_name"],
                         [{"language_code": "en", "text": "Demo Person"}])

        # Delete needs an admin key.
        r = self.run_cli("delete-person", f"persons/{person_id}",
                         key=self.editor_key)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertTrue(r.stderr.startswith("ERROR PERMISSION_DENIED: "),
                        r.stderr)
        self.assertIn("reason=INSUFFICIENT_ROLE", r.stderr)

        r = self.run_cli("delete-person", person_id, key=self.admin_key)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("delete_time", json.loads(r.stdout))
        self.assert_rpc_error(
            grpc.StatusCode.NOT_FOUND, self.stub.GetPerson,
            m_pb.GetPersonRequest(name=f"persons/{person_id}"))

        # Undelete brings it back (an admin's too); a second time it is
        # not deleted.
        r = self.run_cli("undelete-person", person_id, key=self.editor_key)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertTrue(r.stderr.startswith("ERROR PERMISSION_DENIED: "),
                        r.stderr)
        r = self.run_cli("undelete-person", person_id, key=self.admin_key)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("delete_time", json.loads(r.stdout))
        got = self.stub.GetPerson(
            m_pb.GetPersonRequest(name=f"persons/{person_id}"),
            timeout=RPC_TIMEOUT)
        self.assertEqual(got.display_name[0].text, "Demo Person")
        r = self.run_cli("undelete-person", person_id, key=self.admin_key)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertTrue(r.stderr.startswith("ERROR ALREADY_EXISTS: "),
                        r.stderr)
        self.assertIn("reason=NOT_DELETED", r.stderr)

    def test_cli_create_retried_with_its_request_id(self):
        person_id = f"py-retry-{secrets.token_hex(4)}"
        rid = str(uuid.uuid4())
        first = self.run_cli("create-person", person_id, "Retried",
                             "--create-request-id", rid, key=self.editor_key)
        self.assertEqual(first.returncode, 0, first.stderr)
        again = self.run_cli("create-person", person_id, "Retried",
                             "--create-request-id", rid, key=self.editor_key)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(json.loads(again.stdout)["etag"],
                         json.loads(first.stdout)["etag"])
        # Without it (a new UUID each run), the ID is taken.
        r = self.run_cli("create-person", person_id, "Retried",
                         key=self.editor_key)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertTrue(r.stderr.startswith("ERROR ALREADY_EXISTS: "),
                        r.stderr)
        r = self.run_cli("create-person", person_id, "Retried",
                         "--create-request-id", "not-a-uuid", key=self.editor_key)
        self.assertEqual(r.returncode, 2, r.stderr)

    # -- the change stream ---------------------------------------------------

    def create_person(self, person_id):
        return self.stub.CreatePerson(
            m_pb.CreatePersonRequest(
                person_id=person_id,
                person=m_pb.Person(display_name=[types_pb.LocalizedText(
                    language_code="en", text=f"Watched {person_id}")])),
            metadata=self.auth(self.editor_key), timeout=RPC_TIMEOUT)

    @staticmethod
    def next_change(stream):
        """The stream's next change, passing over checkpoints (bounded by the
        stream's deadline)."""
        for message in stream:
            if message.change_type != m_pb.CHANGE_TYPE_CHECKPOINT:
                return message
        raise AssertionError("the stream ended without a change")

    def test_watch_membership_follows_and_resumes(self):
        stream = self.stub.WatchMembership(m_pb.WatchMembershipRequest(),
                                           timeout=30)
        try:
            first = next(stream)  # a checkpoint: the stream is registered
            self.assertEqual(first.change_type, m_pb.CHANGE_TYPE_CHECKPOINT)
            self.assertTrue(first.resume_token)
            a = self.create_person(f"py-watch-a-{secrets.token_hex(4)}")
            seen = self.next_change(stream)
        finally:
            stream.cancel()
        self.assertEqual(seen.change_type, m_pb.CHANGE_TYPE_CREATED)
        self.assertEqual(seen.name, a.name)
        self.assertEqual(seen.WhichOneof("resource"), "person")
        self.assertEqual(seen.person, a)
        self.assertTrue(seen.HasField("commit_time"))

        # A write while no one watches: the stream resumed after the first
        # change has it next, and not the first again.
        b = self.create_person(f"py-watch-b-{secrets.token_hex(4)}")
        resumed = self.stub.WatchMembership(
            m_pb.WatchMembershipRequest(resume_token=seen.resume_token),
            timeout=30)
        try:
            after = self.next_change(resumed)
        finally:
            resumed.cancel()
        self.assertEqual(after.name, b.name)
        self.assertEqual(after.sequence, seen.sequence + 1)

        # The CLI resumes the same way, one JSON line per message.
        r = self.run_cli("watch-membership", "--resume-token",
                         seen.resume_token, "--changes", "1",
                         "--timeout", "30")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(lines[-1]["name"], b.name)
        self.assertEqual(lines[-1]["change_type"], "CHANGE_TYPE_CREATED")
        self.assertEqual(lines[-1]["person"]["name"], b.name)
        self.assertNotIn(a.name, r.stdout)

    def test_watch_membership_filters(self):
        stream = self.stub.WatchMembership(
            m_pb.WatchMembershipRequest(collections=["bodies"]), timeout=30)
        try:
            next(stream)
            self.create_person(f"py-watch-skip-{secrets.token_hex(4)}")
            body_id = f"py-watch-body-{secrets.token_hex(4)}"
            body = self.stub.CreateBody(
                m_pb.CreateBodyRequest(body_id=body_id, body=m_pb.Body(
                    display_name=[types_pb.LocalizedText(
                        language_code="en", text="Watched body")],
                    kind=m_pb.BODY_KIND_ASSEMBLY)),
                metadata=self.auth(self.editor_key), timeout=RPC_TIMEOUT)
            change = self.next_change(stream)
        finally:
            stream.cancel()
        self.assertEqual(change.name, body.name)  # the person passed over
        self.assertEqual(change.WhichOneof("resource"), "body")

        def bad_filter(timeout):
            return list(self.stub.WatchMembership(
                m_pb.WatchMembershipRequest(collections=["events"]),
                timeout=timeout))
        err = self.assert_rpc_error(grpc.StatusCode.INVALID_ARGUMENT,
                                    bad_filter)
        self.assertEqual(self.error_info(err).reason, "INVALID_WATCH_FILTER")
        r = self.run_cli("watch-membership", "--collection", "events")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertTrue(r.stderr.startswith("ERROR INVALID_ARGUMENT: "),
                        r.stderr)
        self.assertIn("reason=INVALID_WATCH_FILTER", r.stderr)

    def test_cli_errors(self):
        r = self.run_cli("list-persons", "--page-size", "-1")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        self.assertTrue(lines and lines[0].startswith(
            "ERROR INVALID_ARGUMENT: "), r.stderr)
        self.assertIn("BadRequest: field page_size: ", r.stderr)
        self.assertIn("ErrorInfo: reason=", r.stderr)

        r = self.run_cli("create-person", "nobody", "No Key")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertTrue(r.stderr.startswith("ERROR UNAUTHENTICATED: "),
                        r.stderr)
        self.assertIn("reason=MISSING_CREDENTIALS", r.stderr)


def main():
    # pylint: disable=global-statement
    global SERVER_BIN, STUBS_DIR
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--server",
                        default=os.environ.get("CSTOPA_MEMBERSHIP_SERVER"))
    parser.add_argument("--stubs", default=os.environ.get(
        "CSTOPA_PY_STUBS", os.path.join(REPO_ROOT, "build", "gen-python")))
    args, rest = parser.parse_known_args()
    SERVER_BIN = args.server or os.path.join(
        REPO_ROOT, "build", "services", "membership", "membership_server")
    STUBS_DIR = args.stubs
    if not os.access(SERVER_BIN, os.X_OK):
        sys.exit(f"no server binary at {SERVER_BIN} (set "
                 f"CSTOPA_MEMBERSHIP_SERVER or pass --server)")
    if not os.path.isfile(os.path.join(STUBS_DIR, "cstopa", "membership", "v1",
                                       "membership_pb2_grpc.py")):
        sys.exit(f"no generated Python stubs in {STUBS_DIR} (build target "
                 f"cstopa_python_stubs; set CSTOPA_PY_STUBS or pass --stubs)")
    import_stubs(STUBS_DIR)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
