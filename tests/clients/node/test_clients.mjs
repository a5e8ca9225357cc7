// Calls the real servers from Node, the way a Node application would: with
// @grpc/grpc-js and @grpc/proto-loader, from the descriptor set the build
// makes of every cstopa proto (build/cstopa.binpb), no generated code.
//
// Run by CTest (test `node_client`), which sets:
//   CSTOPA_DESCRIPTOR_SET      build/cstopa.binpb
//   CSTOPA_ERROR_DETAILS_SET   the google.rpc error details descriptor set
//   CSTOPA_<SERVICE>_SERVER    path of each server binary (MEMBERSHIP, ...,
//                              GATEWAY); a service whose variable is unset
//                              is skipped (the gateway needs all five)
//   NODE_PATH                  tools/node_modules
// By hand: node --test tests/clients/node/test_clients.mjs (with those set).
//
// Each server runs on a free loopback port with an in-memory SQLite store,
// seeded, and a one-off editor key; the gateway (no store) runs in front of
// its own four such services. Each is stopped with SIGTERM when the tests
// end (SIGKILL if it lingers). Every wait is bounded.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH ?? ".", "x"));
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");
require("protobufjs/ext/descriptor");

const RPC_TIMEOUT_MS = 10000;
const START_TIMEOUT_MS = 30000;

const descriptorSet = fs.readFileSync(process.env.CSTOPA_DESCRIPTOR_SET);
const definition = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet, {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
});
const cstopa = grpc.loadPackageDefinition(definition).cstopa;

// google.rpc.Status and its details, to read the errors' details.
const detailsRoot = protobuf.Root.fromDescriptor(
  protobuf.Root.fromJSON(require("protobufjs/google/protobuf/descriptor.json"))
    .lookupType("google.protobuf.FileDescriptorSet")
    .decode(fs.readFileSync(process.env.CSTOPA_ERROR_DETAILS_SET)),
);
// google.rpc.Status (status.proto is not in either set): three fields.
const statusRoot = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: "int32", id: 1 },
                message: { type: "string", id: 2 },
                details: { rule: "repeated", type: "Any", id: 3 },
              },
            },
            Any: {
              fields: {
                type_url: { type: "string", id: 1 },
                value: { type: "bytes", id: 2 },
              },
            },
          },
        },
      },
    },
  },
});

// The google.rpc.Status an error carries, with its details decoded by type.
function statusDetails(err) {
  const bin = err.metadata?.get("grpc-status-details-bin")?.[0];
  if (!bin) return null;
  const Status = statusRoot.lookupType("google.rpc.Status");
  const status = Status.decode(bin);
  const details = status.details.map((any) => {
    const typeName = any.type_url.slice(any.type_url.lastIndexOf("/") + 1);
    const type = detailsRoot.lookupType(typeName);
    return { typeName, value: type.toObject(type.decode(any.value)) };
  });
  return { code: status.code, message: status.message, details };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cstopa-node-"));
const key = randomBytes(24).toString("hex");
const keysFile = path.join(tmp, "keys.txt");
fs.writeFileSync(
  keysFile,
  `sha256:${createHash("sha256").update(key).digest("hex")} editor node-test\n`,
);
const running = [];

// Starts `bin` and resolves to "127.0.0.1:<port>" once it serves. `args`
// replaces the store and key flags (the gateway has neither store nor
// writes).
async function startServer(
  name,
  bin,
  args = ["--store=sqlite::memory:", `--api_keys_file=${keysFile}`],
) {
  const portFile = path.join(tmp, `${name}.ports`);
  const log = fs.openSync(path.join(tmp, `${name}.log`), "w");
  const proc = spawn(
    bin,
    [
      "--listen=127.0.0.1:0",
      "--admin_listen=",
      `--port_file=${portFile}`,
      "--access_log=off",
      ...args,
    ],
    { stdio: ["ignore", "ignore", log] },
  );
  running.push(proc);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    if (fs.existsSync(portFile)) {
      const m = /"grpc_port":(\d+)/.exec(fs.readFileSync(portFile, "utf8"));
      if (m) return `127.0.0.1:${m[1]}`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${name} did not start: ${fs.readFileSync(path.join(tmp, `${name}.log`), "utf8")}`,
  );
}

after(async () => {
  for (const proc of running) proc.kill("SIGTERM");
  await Promise.all(
    running.map(
      (proc) =>
        new Promise((resolve) => {
          if (proc.exitCode !== null) return resolve();
          const t = setTimeout(() => proc.kill("SIGKILL"), 15000);
          proc.on("exit", () => {
            clearTimeout(t);
            resolve();
          });
        }),
    ),
  );
  fs.rmSync(tmp, { recursive: true, force: true });
});

// Promise form of a unary call, with a deadline and optional editor key.
function call(client, method, request, { auth = false } = {}) {
  const metadata = new grpc.Metadata();
  if (auth) metadata.set("authorization", `Bearer ${key}`);
  return new Promise((resolve, reject) => {
    client[method](
      request,
      metadata,
      { deadline: new Date(Date.now() + RPC_TIMEOUT_MS) },
      (err, response) => (err ? reject(err) : resolve(response)),
    );
  });
}

function text(texts, lang = "en") {
  return (texts ?? []).find((t) => t.language_code === lang)?.text;
}

// Follows a server stream of a Watch method: started() resolves once its
// first message (a checkpoint) came; change(n) to its n-th change (not a
// checkpoint, whose change_type proto-loader leaves out as the default);
// both fail on a stream error or after RPC_TIMEOUT_MS. cancel() ends it.
function followChanges(stream) {
  const changes = [];
  const waiters = [];
  let messages = 0;
  let failed = null;
  let cancelled = false;
  const wake = () => waiters.splice(0).forEach((w) => w());
  stream.on("data", (m) => {
    messages += 1;
    if (m.change_type !== "CHANGE_TYPE_CHECKPOINT") changes.push(m);
    wake();
  });
  stream.on("error", (err) => {
    if (!cancelled) failed = err;
    wake();
  });
  const until = async (done, what) => {
    const deadline = Date.now() + RPC_TIMEOUT_MS;
    while (!done() && !failed && Date.now() < deadline)
      await new Promise((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    assert.equal(failed, null, `the stream failed: ${failed?.message}`);
    assert.ok(done(), `no ${what} within ${RPC_TIMEOUT_MS} ms`);
  };
  return {
    started: () => until(() => messages > 0, "first message"),
    change: async (n) => {
      await until(() => changes.length >= n, `change ${n}`);
      return changes[n - 1];
    },
    changes: () => changes.slice(),
    cancel: () => {
      cancelled = true;
      stream.cancel();
    },
  };
}

const membershipBin = process.env.CSTOPA_MEMBERSHIP_SERVER;
describe("membership", { skip: !membershipBin }, () => {
  let client;
  before(async () => {
    const target = await startServer("membership", membershipBin);
    client = new cstopa.membership.v1.MembershipService(
      target,
      grpc.credentials.createInsecure(),
    );
  });
  after(() => client?.close());

  test("reads a seeded state with its current status", async () => {
    const kz = await call(client, "GetState", { name: "states/kz" });
    assert.equal(text(kz.display_name), "Kazakhstan");
    assert.equal(kz.current_status, "MEMBERSHIP_STATUS_MEMBER");
    assert.ok(kz.provenance.length > 0, "seeded records cite their source");
  });

  test("pages through every person exactly once", async () => {
    const seen = new Set();
    let token = "";
    let pages = 0;
    do {
      const page = await call(client, "ListPersons", {
        page_size: 4,
        page_token: token,
      });
      for (const p of page.persons) {
        assert.ok(!seen.has(p.name), `${p.name} twice`);
        seen.add(p.name);
      }
      token = page.next_page_token;
      pages += 1;
    } while (token && pages < 100);
    assert.ok(seen.has("persons/viktor-rogalev"));
    assert.ok(pages > 1);
  });

  test("bad input is INVALID_ARGUMENT with field violations", async () => {
    await assert.rejects(
      call(client, "ListPersons", { filter: "no_such_field = 1" }),
      (err) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        const status = statusDetails(err);
        const bad = status.details.find(
          (d) => d.typeName === "google.rpc.BadRequest",
        );
        assert.equal(bad.value.field_violations[0].field, "filter");
        return true;
      },
    );
  });

  test("a watcher sees a write, then resumes after it with its token", async () => {
    const watch = (request) =>
      followChanges(
        client.WatchMembership(request, new grpc.Metadata(), {
          deadline: new Date(Date.now() + 30000),
        }),
      );
    const person = (id) => ({
      person_id: id,
      person: { display_name: [{ language_code: "en", text: `Node ${id}` }] },
    });
    const first = watch({});
    await first.started();
    const a = `node-watch-a-${Date.now()}`;
    await call(client, "CreatePerson", person(a), { auth: true });
    const seen = await first.change(1);
    assert.equal(seen.change_type, "CHANGE_TYPE_CREATED");
    assert.equal(seen.name, `persons/${a}`);
    assert.equal(seen.resource, "person");
    assert.equal(seen.person.name, `persons/${a}`);
    assert.ok(seen.commit_time, "a change has its commit time");
    first.cancel();

    // A write while no one watches; resuming after the first change sees
    // it, and not the first again.
    const b = `node-watch-b-${Date.now()}`;
    await call(client, "CreatePerson", person(b), { auth: true });
    const resumed = watch({ resume_token: seen.resume_token });
    const next = await resumed.change(1);
    assert.equal(next.name, `persons/${b}`);
    assert.equal(BigInt(next.sequence), BigInt(seen.sequence) + 1n);
    resumed.cancel();
  });

  test("a watch filter on an unknown collection is INVALID_ARGUMENT", async () => {
    const stream = client.WatchMembership(
      { collections: ["events"] },
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + RPC_TIMEOUT_MS) },
    );
    const err = await new Promise((resolve) => {
      stream.on("data", () => {});
      stream.on("error", resolve);
    });
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    const info = statusDetails(err).details.find(
      (d) => d.typeName === "google.rpc.ErrorInfo",
    );
    assert.equal(info.value.reason, "INVALID_WATCH_FILTER");
  });

  test("writes need a key, and a stale etag loses", async () => {
    const id = `node-${Date.now()}`;
    const person = {
      display_name: [{ language_code: "en", text: "Node Test" }],
    };
    await assert.rejects(
      call(client, "CreatePerson", { person_id: id, person }),
      (err) => err.code === grpc.status.UNAUTHENTICATED,
    );
    const created = await call(
      client,
      "CreatePerson",
      { person_id: id, person },
      { auth: true },
    );
    const updated = await call(
      client,
      "UpdatePerson",
      {
        person: { ...created, state: "states/kz" },
        update_mask: { paths: ["state"] },
      },
      { auth: true },
    );
    assert.equal(updated.state, "states/kz");
    await assert.rejects(
      call(
        client,
        "UpdatePerson",
        {
          person: { ...created, state: "states/ru" },
          update_mask: { paths: ["state"] },
        },
        { auth: true },
      ),
      (err) => err.code === grpc.status.ABORTED, // stale etag (AIP-154)
    );
  });
});

const monitoringBin = process.env.CSTOPA_MONITORING_SERVER;
describe("monitoring", { skip: !monitoringBin }, () => {
  let client;
  before(async () => {
    const target = await startServer("monitoring", monitoringBin);
    client = new cstopa.monitoring.v1.MonitoringService(
      target,
      grpc.credentials.createInsecure(),
    );
  });
  after(() => client?.close());

  test("counts the seeded observation missions per year and state", async () => {
    const summary = await call(client, "SummarizeMissions", {
      start_year: 2021,
      end_year: 2021,
    });
    const kg = summary.counts.find(
      (c) => c.year === 2021 && c.state === "states/kg",
    );
    assert.equal(kg.mission_count, 3);
    assert.equal(
      summary.total_mission_count,
      summary.years.reduce((n, y) => n + y.mission_count, 0),
    );
  });

  test("keeps contingents with sizes, qualifiers and units", async () => {
    const ops = await call(client, "ListOperations", {
      filter: 'state = "states/kz"',
    });
    assert.equal(ops.operations.length, 1);
    const byState = Object.fromEntries(
      ops.operations[0].contingents.map((c) => [c.state, c]),
    );
    assert.equal(byState["states/am"].size, 100);
    assert.equal(byState["states/kg"].size_qualifier, "SIZE_QUALIFIER_APPROXIMATE");
    assert.equal(byState["states/by"].size, undefined);
    assert.match(text(byState["states/by"].unit), /company/);
  });

  test("a negative contingent is refused with a field violation", async () => {
    await assert.rejects(
      call(
        client,
        "CreateOperation",
        {
          operation_id: "node-bad",
          operation: {
            title: [{ language_code: "en", text: "Bad" }],
            state: "states/kz",
            contingents: [{ state: "states/ru", size: -1 }],
          },
        },
        { auth: true },
      ),
      (err) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        const bad = statusDetails(err).details.find(
          (d) => d.typeName === "google.rpc.BadRequest",
        );
        assert.ok(
          bad.value.field_violations.some((v) =>
            v.field.endsWith("contingents[0].size"),
          ),
          JSON.stringify(bad.value),
        );
        return true;
      },
    );
  });
});

const eventsBin = process.env.CSTOPA_EVENTS_SERVER;
// A watch message without a change.
const isCheckpoint = (m) => m.change_type === "CHANGE_TYPE_CHECKPOINT";
describe("events", { skip: !eventsBin }, () => {
  let client;
  before(async () => {
    const target = await startServer("events", eventsBin);
    client = new cstopa.events.v1.EventsService(
      target,
      grpc.credentials.createInsecure(),
    );
  });
  after(() => client?.close());

  test("lists the seeded events newest first", async () => {
    const page = await call(client, "ListEvents", { page_size: 100 });
    // The seed's events by their starts, newest first; those whose start no
    // source states last (the ICMEC meeting: only that it had ended by the
    // 2024-04-18 item reporting it).
    assert.deepEqual(
      page.events.map((e) => e.name),
      [
        "events/migration-coordination-council-28th-meeting",
        "events/annual-training-2024",
        "events/working-meeting-unrcca-2024",
        "events/kz-mazhilis-deployment-agreement-bill-2022",
        "events/consultations-international-military-flights-2022",
        "events/csto-forces-withdraw-from-kazakhstan-2022",
        "events/icmec-meeting-2024-04",
      ],
    );
    const icmec = page.events.find((e) => e.name === "events/icmec-meeting-2024-04");
    assert.deepEqual(icmec.dates.ended_by, { year: 2024, month: 4, day: 18 });
    assert.equal(icmec.dates.start_date, undefined);
    const moscow = page.events.find((e) =>
      /flights/i.test(text(e.title) ?? ""),
    );
    assert.ok(moscow, "the April 2022 consultations are seeded");
    assert.equal(moscow.organizer, "bodies/csto-joint-staff");
  });

  test("a watcher sees a create, then resumes after it with its token", async () => {
    const stream = client.WatchEvents(
      {},
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + 30000) },
    );
    const messages = [];
    const waiters = [];
    let failed = null;  // an error before the cancel below fails the test
    let cancelled = false;
    stream.on("data", (m) => {
      if (messages.length > 0 && isCheckpoint(m)) return;  // quiet-stream ticks
      messages.push(m);
      waiters.splice(0).forEach((w) => w());
    });
    stream.on("error", (err) => {
      if (!cancelled) failed = err;
      waiters.splice(0).forEach((w) => w());
    });
    const next = async (n) => {
      const deadline = Date.now() + RPC_TIMEOUT_MS;
      while (messages.length < n && !failed && Date.now() < deadline)
        await new Promise((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      assert.equal(failed, null, `the stream failed: ${failed?.message}`);
      assert.ok(messages.length >= n, `got ${messages.length} of ${n}`);
      return messages[n - 1];
    };
    const checkpoint = await next(1);
    assert.ok(isCheckpoint(checkpoint), "the first message is a checkpoint");
    assert.ok(checkpoint.resume_token);
    const id = `node-${Date.now()}`;
    await call(
      client,
      "CreateEvent",
      {
        event_id: id,
        event: {
          kind: "EVENT_KIND_WORKING_MEETING",
          title: [{ language_code: "en", text: "Node watch test" }],
        },
      },
      { auth: true },
    );
    const change = await next(2);
    assert.equal(change.change_type, "CHANGE_TYPE_CREATED");
    assert.equal(change.event.name, `events/${id}`);
    cancelled = true;
    stream.cancel();

    // Resuming from the checkpoint's token replays the create, exactly once.
    const resumed = client.WatchEvents(
      { resume_token: checkpoint.resume_token },
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + 30000) },
    );
    const replay = await new Promise((resolve, reject) => {
      resumed.on("data", (m) => {
        if (!isCheckpoint(m)) resolve(m);
      });
      resumed.on("error", reject);
    });
    resumed.cancel();
    resumed.on("error", () => {});
    assert.equal(replay.event.name, `events/${id}`);
    assert.equal(replay.sequence, change.sequence);
  });

  test("a damaged resume token is INVALID_ARGUMENT", async () => {
    const stream = client.WatchEvents(
      { resume_token: "not-a-token" },
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + RPC_TIMEOUT_MS) },
    );
    const err = await new Promise((resolve) => {
      stream.on("data", () => {});
      stream.on("error", resolve);
    });
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  });
});

const gatewayBin = process.env.CSTOPA_GATEWAY_SERVER;
const backendBins = {
  membership: membershipBin,
  legislation: process.env.CSTOPA_LEGISLATION_SERVER,
  events: eventsBin,
  monitoring: monitoringBin,
};
const date = (year, month, day) => ({ year, month, day });
// Every section of a view complete, in the given order.
function assertComplete(view, names) {
  assert.deepEqual(
    view.sections.map((s) => s.section),
    names,
  );
  for (const s of view.sections)
    assert.ok(
      s.complete,
      `section ${s.section} (${s.service}): ${JSON.stringify(s.status)}`,
    );
}
describe(
  "gateway",
  { skip: !gatewayBin || Object.values(backendBins).some((b) => !b) },
  () => {
    let client;
    const targets = {};
    before(async () => {
      // The four services of its own, started together, then the gateway.
      const ports = await Promise.all(
        Object.entries(backendBins).map(([svc, bin]) =>
          startServer(`gateway-${svc}`, bin).then((t) => [svc, t]),
        ),
      );
      for (const [svc, t] of ports) targets[svc] = `ipv4:${t}`;
      const target = await startServer(
        "gateway",
        gatewayBin,
        Object.entries(targets).map(([svc, t]) => `--${svc}_target=${t}`),
      );
      client = new cstopa.gateway.v1.GatewayService(
        target,
        grpc.credentials.createInsecure(),
      );
    });
    after(() => client?.close());

    test("a state's profile has its seats on the date and its treaties", async () => {
      const before = await call(client, "GetStateProfile", {
        name: "states/kg/profile",
        as_of: date(2022, 6, 1),
      });
      // Between the source giving 6 seats (2022) and the one giving 7 (2024).
      const between = await call(client, "GetStateProfile", {
        name: "states/kg/profile",
        as_of: date(2023, 6, 1),
      });
      const after = await call(client, "GetStateProfile", {
        name: "states/kg/profile",
        as_of: date(2025, 6, 1),
      });
      const sections = [
        "membership",
        "legislation",
        "events",
        "missions",
        "operations",
      ];
      for (const p of [before, between, after]) {
        assert.equal(p.name, "states/kg/profile");
        assertComplete(p, sections);
        assert.equal(p.state.name, "states/kg");
        assert.equal(p.delegations.length, 1);
      }
      assert.equal(before.delegations[0].total_seats, 6);
      assert.equal(before.delegations[0].seats_knowledge, "AS_OF_KNOWLEDGE_KNOWN");
      assert.equal(after.delegations[0].total_seats, 7);
      assert.equal(after.delegations[0].seats_knowledge, "AS_OF_KNOWLEDGE_KNOWN");
      // Not known on 2023-06-01: no seats counted, and it says so.
      assert.equal(between.delegations[0].total_seats ?? 0, 0);
      assert.equal(between.delegations[0].seats_knowledge, "AS_OF_KNOWLEDGE_NOT_KNOWN");

      const kz = await call(client, "GetStateProfile", {
        name: "states/kz/profile",
        as_of: date(2024, 6, 1),
      });
      assertComplete(kz, sections);
      const treaty = kz.treaties.find(
        (t) => t.treaty === "treaties/jurisdiction-temporary-deployment-2021",
      );
      assert.ok(treaty, JSON.stringify(kz.treaties.map((t) => t.treaty)));
      assert.equal(treaty.party.status, "RATIFICATION_STATUS_BILL_INTRODUCED");
    });

    test("a person's profile names the person and the roles", async () => {
      const p = await call(client, "GetPersonProfile", {
        name: "persons/nurlanbek-shakiev/profile",
      });
      assertComplete(p, ["membership", "events", "missions"]);
      assert.equal(text(p.person.display_name), "Nurlanbek Shakiev");
      const speaker = p.roles.find(
        (r) => r.role.name === "roles/shakiev-jogorku-kenesh-speaker",
      );
      assert.ok(speaker, JSON.stringify(p.roles.map((r) => r.role.name)));
      assert.match(text(speaker.organization_display_name), /Jogorku/);
    });

    test("an unknown person is NOT_FOUND with decodable details", async () => {
      await assert.rejects(
        call(client, "GetPersonProfile", { name: "persons/nobody/profile" }),
        (err) => {
          assert.equal(err.code, grpc.status.NOT_FOUND);
          const status = statusDetails(err);
          assert.ok(status, "no grpc-status-details-bin");
          assert.equal(status.code, grpc.status.NOT_FOUND);
          const info = status.details.find(
            (d) => d.typeName === "google.rpc.ErrorInfo",
          );
          assert.equal(info?.value.reason, "RESOURCE_NOT_FOUND");
          return true;
        },
      );
    });

    test("the dashboard counts states, seats and missions on the date", async () => {
      const d = await call(client, "GetAssemblyDashboard", {
        name: "dashboard",
        as_of: date(2022, 6, 1),
      });
      assert.equal(d.name, "dashboard");
      assertComplete(d, [
        "membership",
        "legislation",
        "missions",
        "latest_events",
        "next_events",
      ]);
      assert.equal(d.states.length, 6);
      assert.equal(
        d.total_seats,
        d.states.reduce((n, s) => n + (s.seats ?? 0), 0),
      );
      const kg = d.states.find((s) => s.state === "states/kg");
      assert.equal(kg.seats, 6);
      assert.equal(kg.seats_knowledge, "AS_OF_KNOWLEDGE_KNOWN");
      assert.equal(d.total_missions, 11);

      const later = await call(client, "GetAssemblyDashboard", {
        name: "dashboard",
        as_of: date(2023, 6, 1),
      });
      const kg2023 = later.states.find((s) => s.state === "states/kg");
      assert.equal(kg2023.seats ?? 0, 0);
      assert.equal(kg2023.seats_knowledge, "AS_OF_KNOWLEDGE_NOT_KNOWN");
    });

    test("lists its four backends, ready, after calling them", async () => {
      await call(client, "GetStateProfile", { name: "states/am/profile" });
      const { backends } = await call(client, "ListBackends", {});
      assert.deepEqual(
        backends.map((b) => b.service).sort(),
        Object.keys(targets).sort(),
      );
      for (const b of backends) {
        assert.equal(b.state, "BACKEND_STATE_READY", b.service);
        assert.equal(b.target, targets[b.service]);
        assert.ok(Number(b.call_count) > 0, b.service);
      }
    });
  },
);
