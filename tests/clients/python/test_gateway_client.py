#!/usr/bin/python3
"""Calls every view of the real gateway, in front of the four real services,
through Python stubs generated from the protos and through the
cstopa_client.py command line.

Run by CTest (test `python_gateway_client`), which sets:
  CSTOPA_MEMBERSHIP_SERVER, CSTOPA_LEGISLATION_SERVER, CSTOPA_EVENTS_SERVER,
  CSTOPA_MONITORING_SERVER, CSTOPA_GATEWAY_SERVER   the server binaries
  CSTOPA_PY_STUBS                                   the generated stubs
By hand (each binary defaults to its place in build/):
  /usr/bin/python3 tests/clients/python/test_gateway_client.py \\
      [--stubs build/gen-python] [unittest options]

Each service runs on a free loopback port with a fresh SQLite store in a
temporary directory, seeded with the built-in seed; the gateway runs on a
free port too, pointed at them. All are stopped with SIGTERM (SIGKILL if one
lingers) when the tests end, whatever happens. Every wait is bounded.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
CLI = os.path.join(HERE, "cstopa_client.py")

RPC_TIMEOUT = 10  # seconds per call
START_TIMEOUT = 30  # seconds for a server to write its port file
STOP_TIMEOUT = 15  # seconds after SIGTERM before SIGKILL
CLI_TIMEOUT = 60  # seconds per CLI run

BACKENDS = ("membership", "legislation", "events", "monitoring")
# service -> its binary; filled in by main() before the tests run.
BINARIES = {}
STUBS_DIR = None
grpc = None
g_pb = None
g_grpc = None
m_pb = None
l_pb = None
t_pb = None
status_pb = None
error_details_pb = None
date_pb = None

TREATY = "treaties/jurisdiction-temporary-deployment-2021"
SHAKIEV_SPEAKER = "roles/shakiev-jogorku-kenesh-speaker"
STATE_SECTIONS = ["membership", "legislation", "events", "missions",
                  "operations"]
PERSON_SECTIONS = ["membership", "events", "missions"]
DASHBOARD_SECTIONS = ["membership", "legislation", "missions",
                      "latest_events", "next_events"]


def import_stubs(stubs_dir):
    """Imports grpc and the generated modules from `stubs_dir`."""
    # pylint: disable=import-outside-toplevel,global-statement
    global grpc, g_pb, g_grpc, m_pb, l_pb, status_pb, error_details_pb
    global date_pb, t_pb
    sys.path.insert(0, os.path.abspath(stubs_dir))
    import grpc as grpc_mod
    from cstopa.gateway.v1 import gateway_pb2
    from cstopa.gateway.v1 import gateway_pb2_grpc
    from cstopa.legislation.v1 import legislation_pb2
    from cstopa.membership.v1 import membership_pb2
    from cstopa.type.v1 import types_pb2
    from google.rpc import error_details_pb2
    from google.rpc import status_pb2
    from google.type import date_pb2
    grpc, g_pb, g_grpc = grpc_mod, gateway_pb2, gateway_pb2_grpc
    m_pb, l_pb, t_pb = membership_pb2, legislation_pb2, types_pb2
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


def en(texts):
    """The English text of a list of LocalizedText (messages or JSON)."""
    for t in texts:
        lang = t["language_code"] if isinstance(t, dict) else t.language_code
        if lang == "en":
            return t["text"] if isinstance(t, dict) else t.text
    return ""


def day(y, m, d):
    return date_pb.Date(year=y, month=m, day=d)


class Server:
    """One server binary as a child process on loopback port 0."""

    def __init__(self, name, binary, tmp, extra_args):
        self.name = name
        self.port_file = os.path.join(tmp, f"{name}.ports.json")
        self.log = os.path.join(tmp, f"{name}.log")
        args = [
            binary,
            "--listen=127.0.0.1:0",
            "--admin_listen=127.0.0.1:0",
            f"--port_file={self.port_file}",
            "--access_log=off",
        ] + list(extra_args)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
                args, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=tmp)
        self.port = None

    def wait_for_port(self):
        """Waits for the port file; returns the gRPC port."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with status {self.proc.returncode} "
                    f"before serving:\n{self.log_tail()}")
            try:
                with open(self.port_file, encoding="utf-8") as f:
                    ports = json.load(f)
                if ports.get("grpc_port"):
                    self.port = ports["grpc_port"]
                    return self.port
            except (OSError, ValueError):
                pass  # not written yet
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: no port file after "
                           f"{START_TIMEOUT} s:\n{self.log_tail()}")

    def stop(self):
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
                print(f"{self.name} ignored SIGTERM for {STOP_TIMEOUT} s; "
                      f"killed", file=sys.stderr)
        if proc.returncode != 0:
            print(f"{self.name} exited with status {proc.returncode}",
                  file=sys.stderr)
        # CTest shows this only when the test fails (--output-on-failure).
        print(f"--- {self.name} log (tail) ---\n{self.log_tail()}",
              file=sys.stderr)

    def log_tail(self, lines=30):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"


class GatewayClientTest(unittest.TestCase):
    """The four services and the gateway, once for the whole class; tests
    only read, and do not depend on each other."""

    tmp = None
    servers = {}
    target = None
    channel = None
    stub = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cstopa-pygateway-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.servers = {}
        # Cleanups run last-in first-out: the gateway, registered last,
        # stops first. Each is registered right after its start so that it
        # is stopped even when the rest of setUpClass fails.
        for service in BACKENDS:
            server = Server(service, BINARIES[service], cls.tmp, [
                f"--store=sqlite:///{cls.tmp}/{service}.db",
                "--seed=builtin",
                f"--page_token_secret=pygateway-{service}",
            ])
            cls.servers[service] = server
            cls.addClassCleanup(server.stop)
        # Started together, waited for together.
        ports = {s: cls.servers[s].wait_for_port() for s in BACKENDS}
        gateway = Server("gateway", BINARIES["gateway"], cls.tmp, [
            f"--{s}_target=ipv4:127.0.0.1:{ports[s]}" for s in BACKENDS])
        cls.servers["gateway"] = gateway
        cls.addClassCleanup(gateway.stop)
        cls.target = f"127.0.0.1:{gateway.wait_for_port()}"
        cls.channel = grpc.insecure_channel(cls.target)
        cls.addClassCleanup(cls.channel.close)
        grpc.channel_ready_future(cls.channel).result(timeout=RPC_TIMEOUT)
        cls.stub = g_grpc.GatewayServiceStub(cls.channel)

    # -- helpers ------------------------------------------------------------

    def state_profile(self, state, as_of=None):
        req = g_pb.GetStateProfileRequest(name=f"states/{state}/profile")
        if as_of is not None:
            req.as_of.CopyFrom(as_of)
        return self.stub.GetStateProfile(req, timeout=RPC_TIMEOUT)

    def assert_all_complete(self, view, names):
        self.assertEqual([s.section for s in view.sections], names)
        for s in view.sections:
            self.assertTrue(
                s.complete,
                f"section {s.section} ({s.service}) incomplete: "
                f"{s.status.code} {s.status.message}")
            self.assertEqual(s.status.code, 0, s.section)

    def run_cli(self, *args):
        cmd = [sys.executable, CLI, "--target", self.target,
               "--stubs", STUBS_DIR] + list(args)
        env = dict(os.environ)
        env.pop("CSTOPA_API_KEY", None)
        return subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=CLI_TIMEOUT, check=False)

    def run_cli_json(self, *args):
        """Runs the CLI, which must succeed with every section complete;
        returns its JSON output."""
        r = self.run_cli(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("INCOMPLETE", r.stderr)
        out = json.loads(r.stdout)
        for s in out.get("sections", []):
            self.assertTrue(s.get("complete"), s)
        return out

    # -- GetStateProfile ----------------------------------------------------

    def test_state_profile_seats_on_three_dates(self):
        before = self.state_profile("kg", day(2022, 6, 1))
        # Between the source giving 6 seats (2022) and the one giving 7.
        between = self.state_profile("kg", day(2023, 6, 1))
        after = self.state_profile("kg", day(2025, 6, 1))
        for p in (before, between, after):
            self.assertEqual(p.name, "states/kg/profile")
            self.assert_all_complete(p, STATE_SECTIONS)
            self.assertEqual(p.state.name, "states/kg")
            self.assertEqual(len(p.delegations), 1,
                             [d.name for d in p.delegations])
        self.assertEqual(
            (before.as_of_date.year, before.as_of_date.month,
             before.as_of_date.day), (2022, 6, 1))
        self.assertEqual(before.delegations[0].total_seats, 6)
        self.assertEqual(before.delegations[0].seats_knowledge,
                         t_pb.AS_OF_KNOWLEDGE_KNOWN)
        self.assertEqual(after.delegations[0].total_seats, 7)
        self.assertEqual(after.delegations[0].seats_knowledge,
                         t_pb.AS_OF_KNOWLEDGE_KNOWN)
        # Not known on 2023-06-01: no seats counted, and it says so.
        self.assertEqual(between.delegations[0].total_seats, 0)
        self.assertEqual(between.delegations[0].seats_knowledge,
                         t_pb.AS_OF_KNOWLEDGE_NOT_KNOWN)

    def test_state_profile_treaty_ratification(self):
        kz = self.state_profile("kz", day(2024, 6, 1))
        self.assert_all_complete(kz, STATE_SECTIONS)
        by_treaty = {t.treaty: t for t in kz.treaties}
        self.assertIn(TREATY, by_treaty)
        self.assertEqual(by_treaty[TREATY].party.status,
                         l_pb.RATIFICATION_STATUS_BILL_INTRODUCED)
        self.assertIn("Jurisdiction", en(by_treaty[TREATY].title))

    def test_state_profile_unknown_state_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.state_profile("xx")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND,
                         cm.exception.details())

    def test_cli_state_profile(self):
        out = self.run_cli_json("state-profile", "states/kg",
                                "--as-of", "2025-06-01")
        self.assertEqual(out["name"], "states/kg/profile")
        self.assertEqual(out["delegations"][0]["total_seats"], 7)
        self.assertEqual([s["section"] for s in out["sections"]],
                         STATE_SECTIONS)
        # A bare id and the profile's own name work too.
        out = self.run_cli_json("state-profile", "kz")
        self.assertIn(TREATY, [t["treaty"] for t in out["treaties"]])
        party = [t for t in out["treaties"] if t["treaty"] == TREATY][0]
        self.assertEqual(party["party"]["status"],
                         "RATIFICATION_STATUS_BILL_INTRODUCED")
        out = self.run_cli_json("state-profile", "states/kg/profile",
                                "--as-of", "2022-06-01")
        self.assertEqual(out["delegations"][0]["total_seats"], 6)
        out = self.run_cli_json("state-profile", "states/kg/profile",
                                "--as-of", "2023-06-01")
        self.assertEqual(out["delegations"][0]["seats_knowledge"],
                         "AS_OF_KNOWLEDGE_NOT_KNOWN")
        self.assertEqual(out["delegations"][0].get("total_seats", 0), 0)

    def test_cli_call_gateway_method(self):
        r = self.run_cli("call", "gateway.GetStateProfile",
                         '{"name": "states/kz/profile"}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("INCOMPLETE", r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["name"], "states/kz/profile")
        self.assertEqual(out["state"]["name"], "states/kz")
        r = self.run_cli(
            "call", "/cstopa.gateway.v1.GatewayService/GetAssemblyDashboard",
            '{"name": "dashboard", "as_of": {"year": 2023, "month": 6, '
            '"day": 1}}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["total_missions"], 11)

    def test_cli_gateway_target_from_environment(self):
        cmd = [sys.executable, CLI, "--stubs", STUBS_DIR, "person-profile",
               "nurlanbek-shakiev"]
        env = dict(os.environ, CSTOPA_GATEWAY_TARGET=self.target,
                   CSTOPA_MEMBERSHIP_TARGET="127.0.0.1:1")
        r = subprocess.run(cmd, capture_output=True, text=True, env=env,
                           timeout=CLI_TIMEOUT, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["name"],
                         "persons/nurlanbek-shakiev/profile")

    # -- GetPersonProfile ---------------------------------------------------

    def test_person_profile(self):
        p = self.stub.GetPersonProfile(
            g_pb.GetPersonProfileRequest(
                name="persons/nurlanbek-shakiev/profile"),
            timeout=RPC_TIMEOUT)
        self.assertEqual(p.name, "persons/nurlanbek-shakiev/profile")
        self.assert_all_complete(p, PERSON_SECTIONS)
        self.assertEqual(p.person.name, "persons/nurlanbek-shakiev")
        self.assertEqual(en(p.person.display_name), "Nurlanbek Shakiev")
        roles = [r.role.name for r in p.roles]
        self.assertIn(SHAKIEV_SPEAKER, roles)
        speaker = [r for r in p.roles if r.role.name == SHAKIEV_SPEAKER][0]
        self.assertIn("Jogorku", en(speaker.organization_display_name))

    def test_person_profile_unknown_is_not_found_with_details(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.GetPersonProfile(
                g_pb.GetPersonProfileRequest(name="persons/nobody/profile"),
                timeout=RPC_TIMEOUT)
        err = cm.exception
        self.assertEqual(err.code(), grpc.StatusCode.NOT_FOUND, err.details())
        status = status_details(err)
        self.assertIsNotNone(status, "no grpc-status-details-bin")
        self.assertEqual(status.code, grpc.StatusCode.NOT_FOUND.value[0])
        self.assertEqual(status.message, err.details())
        infos = []
        for any_msg in status.details:
            if any_msg.Is(error_details_pb.ErrorInfo.DESCRIPTOR):
                info = error_details_pb.ErrorInfo()
                any_msg.Unpack(info)
                infos.append(info)
        self.assertEqual([(i.reason, i.domain) for i in infos],
                         [("RESOURCE_NOT_FOUND", "membership.cstopa.org")],
                         status)  # the backend's error, passed on
        # Every detail is a known google.rpc type that unpacks.
        for any_msg in status.details:
            known = [cls for cls in (error_details_pb.ErrorInfo,
                                     error_details_pb.ResourceInfo,
                                     error_details_pb.BadRequest,
                                     error_details_pb.DebugInfo,
                                     error_details_pb.RequestInfo)
                     if any_msg.Is(cls.DESCRIPTOR)]
            self.assertTrue(known, any_msg.type_url)
            detail = known[0]()
            self.assertTrue(any_msg.Unpack(detail))

    def test_cli_person_profile(self):
        out = self.run_cli_json("person-profile", "persons/nurlanbek-shakiev")
        self.assertEqual(en(out["person"]["display_name"]),
                         "Nurlanbek Shakiev")
        self.assertIn(SHAKIEV_SPEAKER,
                      [r["role"]["name"] for r in out["roles"]])
        self.assertEqual([s["section"] for s in out["sections"]],
                         PERSON_SECTIONS)

    def test_cli_person_profile_not_found(self):
        r = self.run_cli("person-profile", "persons/nobody")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("ERROR NOT_FOUND: "), r.stderr)
        self.assertNotIn("undecodable", r.stderr)

    # -- GetAssemblyDashboard -----------------------------------------------

    def test_dashboard(self):
        d = self.stub.GetAssemblyDashboard(
            g_pb.GetAssemblyDashboardRequest(name="dashboard",
                                             as_of=day(2022, 6, 1)),
            timeout=RPC_TIMEOUT)
        self.assertEqual(d.name, "dashboard")
        self.assert_all_complete(d, DASHBOARD_SECTIONS)
        self.assertEqual(len(d.states), 6, [s.state for s in d.states])
        for s in d.states:
            self.assertEqual(s.status, m_pb.MEMBERSHIP_STATUS_MEMBER, s.state)
        self.assertEqual(d.total_seats, sum(s.seats for s in d.states))
        kg = {s.state: s for s in d.states}["states/kg"]
        self.assertEqual(kg.seats, 6)
        self.assertEqual(kg.seats_knowledge, t_pb.AS_OF_KNOWLEDGE_KNOWN)
        self.assertEqual(kg.status_knowledge, t_pb.AS_OF_KNOWLEDGE_KNOWN)
        later = self.stub.GetAssemblyDashboard(
            g_pb.GetAssemblyDashboardRequest(name="dashboard",
                                             as_of=day(2023, 6, 1)),
            timeout=RPC_TIMEOUT)
        kg = {s.state: s for s in later.states}["states/kg"]
        self.assertEqual(kg.seats, 0)
        self.assertEqual(kg.seats_knowledge, t_pb.AS_OF_KNOWLEDGE_NOT_KNOWN)
        self.assertEqual(kg.status, m_pb.MEMBERSHIP_STATUS_MEMBER)
        self.assertEqual(d.total_missions, 11)
        self.assertEqual(d.total_missions,
                         sum(y.mission_count for y in d.missions_per_year))
        self.assertIn(TREATY, [t.progress.treaty for t in d.treaties])

    def test_cli_dashboard(self):
        out = self.run_cli_json("dashboard", "--as-of", "2023-06-01")
        self.assertEqual(out["name"], "dashboard")
        self.assertEqual(len(out["states"]), 6)
        self.assertEqual(out["total_missions"], 11)
        self.assertEqual([s["section"] for s in out["sections"]],
                         DASHBOARD_SECTIONS)
        # Without a date: today's dashboard.
        out = self.run_cli_json("dashboard")
        self.assertIn("as_of_date", out)

    # -- ListBackends -------------------------------------------------------

    def test_list_backends_ready_after_views(self):
        # Views first, a NOT_FOUND among them (not a backend failure).
        self.state_profile("am")
        with self.assertRaises(grpc.RpcError):
            self.stub.GetPersonProfile(
                g_pb.GetPersonProfileRequest(name="persons/nobody/profile"),
                timeout=RPC_TIMEOUT)
        resp = self.stub.ListBackends(g_pb.ListBackendsRequest(),
                                      timeout=RPC_TIMEOUT)
        self.assertEqual(sorted(b.service for b in resp.backends),
                         sorted(BACKENDS))
        ports = {s: self.servers[s].port for s in BACKENDS}
        for b in resp.backends:
            self.assertEqual(b.state, g_pb.BACKEND_STATE_READY,
                             f"{b.service}: {b.last_error.message}")
            self.assertEqual(b.target, f"ipv4:127.0.0.1:{ports[b.service]}")
            self.assertGreater(b.call_count, 0, b.service)
            self.assertEqual(b.failure_count, 0, b.service)

    def test_cli_backends(self):
        r = self.run_cli("backends")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(len(out["backends"]), 4, out)
        self.assertEqual({b["state"] for b in out["backends"]},
                         {"BACKEND_STATE_READY"})
        r = self.run_cli("call", "gateway.ListBackends")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(json.loads(r.stdout)["backends"]), 4)

    # -- partial views on the command line ----------------------------------

    def test_cli_names_incomplete_sections(self):
        """A gateway pointed at a dead monitoring service: the view is
        printed, and its two monitoring sections are named on stderr."""
        dead = Server("gateway-partial", BINARIES["gateway"], self.tmp, [
            f"--{s}_target=ipv4:127.0.0.1:{self.servers[s].port}"
            for s in BACKENDS if s != "monitoring"] + [
            # Port 1 on loopback: nothing listens there.
            "--monitoring_target=ipv4:127.0.0.1:1"])
        self.addCleanup(dead.stop)
        port = dead.wait_for_port()
        cmd = [sys.executable, CLI, "--target", f"127.0.0.1:{port}",
               "--stubs", STUBS_DIR, "state-profile", "kz", "--as-of",
               "2024-06-01"]
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=CLI_TIMEOUT, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["state"]["name"], "states/kz")
        incomplete = [line for line in r.stderr.splitlines()
                      if line.startswith("INCOMPLETE ")]
        self.assertEqual(len(incomplete), 2, r.stderr)
        for section, line in zip(("missions", "operations"), incomplete):
            self.assertTrue(line.startswith(
                f"INCOMPLETE section {section} (service monitoring): "), line)
            self.assertIn("UNAVAILABLE", line)
        by_name = {s["section"]: s for s in out["sections"]}
        self.assertFalse(by_name["missions"].get("complete", False))
        self.assertTrue(by_name["membership"]["complete"])


def main():
    # pylint: disable=global-statement
    global STUBS_DIR
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--stubs", default=os.environ.get(
        "CSTOPA_PY_STUBS", os.path.join(REPO_ROOT, "build", "gen-python")))
    args, rest = parser.parse_known_args()
    STUBS_DIR = args.stubs
    for service in BACKENDS + ("gateway",):
        default = (os.path.join(REPO_ROOT, "build", "gateway",
                                "gateway_server") if service == "gateway" else
                   os.path.join(REPO_ROOT, "build", "services", service,
                                f"{service}_server"))
        binary = os.environ.get(f"CSTOPA_{service.upper()}_SERVER", default)
        if not os.access(binary, os.X_OK):
            sys.exit(f"no {service} server binary at {binary} (set "
                     f"CSTOPA_{service.upper()}_SERVER)")
        BINARIES[service] = binary
    if not os.path.isfile(os.path.join(STUBS_DIR, "cstopa", "gateway", "v1",
                                       "gateway_pb2_grpc.py")):
        sys.exit(f"no generated gateway Python stubs in {STUBS_DIR} (build "
                 f"target cstopa_python_stubs; set CSTOPA_PY_STUBS or pass "
                 f"--stubs)")
    import_stubs(STUBS_DIR)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
