// The gateway's HTTP/JSON front door (gateway/http/http_api.h), called over
// real HTTP the way a browser or curl would: routes from the protos'
// google.api.http annotations, the generic `POST /<pkg.Service>/<Method>`,
// AIP-193 errors, ETag/304, gzip, CORS, Server-Sent Events for the Watch
// streams, the OpenAPI document, the access log and the metrics; and the
// public web pages it serves at `/` from the files embedded from web/.
//
// Run by CTest (test `http_api`), which sets CSTOPA_<SERVICE>_SERVER to the
// path of each server binary (MEMBERSHIP, LEGISLATION, EVENTS, MONITORING,
// GATEWAY). By hand: node --test tests/http/http_api_test.mjs with those set.
//
// The four services run on free loopback ports with in-memory SQLite stores,
// seeded, and a one-off editor key; the gateway runs in front of them with
// --http_listen=127.0.0.1:0, CORS for https://example.org, an admin port and
// an access log file. Everything is stopped with SIGTERM when the tests end
// (SIGKILL if it lingers). Every wait is bounded. Only Node's own modules.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";

const START_TIMEOUT_MS = 30000;
const REQUEST_TIMEOUT_MS = 15000;
const STREAM_TIMEOUT_MS = 15000;

const bins = {
  membership: process.env.CSTOPA_MEMBERSHIP_SERVER,
  legislation: process.env.CSTOPA_LEGISLATION_SERVER,
  events: process.env.CSTOPA_EVENTS_SERVER,
  monitoring: process.env.CSTOPA_MONITORING_SERVER,
  gateway: process.env.CSTOPA_GATEWAY_SERVER,
};
// Not skipped: a missing binary is a failure that names it.
const missing = Object.entries(bins)
  .filter(([, bin]) => !bin || !fs.existsSync(bin))
  .map(([svc]) => `CSTOPA_${svc.toUpperCase()}_SERVER`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cstopa-http-"));
// One-off keys: an editor's (writes) and an admin's (undelete).
const key = randomBytes(24).toString("hex");
const adminKey = randomBytes(24).toString("hex");
const keysFile = path.join(tmp, "keys.txt");
const keyLine = (k, role) =>
  `sha256:${createHash("sha256").update(k).digest("hex")} ${role} http-test-${role}\n`;
fs.writeFileSync(keysFile, keyLine(key, "editor") + keyLine(adminKey, "admin"));
const accessLog = path.join(tmp, "gateway-access.log");
const ALLOWED_ORIGIN = "https://example.org";
const running = [];

// Starts `bin` with `args` and resolves to its port file's JSON once it
// serves ({"grpc_port", "admin_port", "http_port"...}).
async function startServer(name, bin, args) {
  const portFile = path.join(tmp, `${name}.ports`);
  const logPath = path.join(tmp, `${name}.log`);
  const log = fs.openSync(logPath, "w");
  const proc = spawn(bin, [`--port_file=${portFile}`, ...args], {
    stdio: ["ignore", "ignore", log],
  });
  fs.closeSync(log);
  running.push(proc);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && proc.exitCode === null) {
    if (fs.existsSync(portFile)) {
      try {
        const ports = JSON.parse(fs.readFileSync(portFile, "utf8"));
        if (ports.grpc_port) return ports;
      } catch {
        // Not written completely yet.
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${name} did not start (exit ${proc.exitCode}): ${fs.readFileSync(logPath, "utf8")}`,
  );
}

after(async () => {
  for (const proc of running) if (proc.exitCode === null) proc.kill("SIGTERM");
  await Promise.all(
    running.map(
      (proc) =>
        new Promise((resolve) => {
          if (proc.exitCode !== null || proc.signalCode !== null)
            return resolve();
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

let httpPort = 0;
let adminPort = 0;
// The gateway's flags that name the four services' ports.
let backendTargets = [];

// One HTTP request with node:http (which, unlike fetch, neither asks for
// nor undoes gzip). Resolves to {status, headers, body (Buffer), text,
// json()}. `body` is a string, Buffer or object (sent as JSON).
function request(
  method,
  urlPath,
  { headers = {}, body, agent, port = httpPort } = {},
) {
  return new Promise((resolve, reject) => {
    let payload = body;
    const h = { ...headers };
    if (payload !== undefined && typeof payload === "object" && !Buffer.isBuffer(payload)) {
      payload = JSON.stringify(payload);
      h["content-type"] ??= "application/json";
    }
    if (payload !== undefined) h["content-length"] = Buffer.byteLength(payload);
    let answered = false;
    let socketPort;
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path: urlPath,
        headers: h,
        agent: agent ?? false,
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        answered = true;
        socketPort = res.socket?.localPort;
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const buf = Buffer.concat(chunks);
          resolve({
            status: res.statusCode,
            headers: res.headers,
            body: buf,
            text: buf.toString("utf8"),
            socketPort,
            json() {
              try {
                return JSON.parse(buf.toString("utf8"));
              } catch (e) {
                throw new Error(
                  `${method} ${urlPath}: not JSON (${res.statusCode}): ${buf.toString("utf8").slice(0, 500)}`,
                );
              }
            },
          });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () =>
      req.destroy(new Error(`${method} ${urlPath}: no answer in ${REQUEST_TIMEOUT_MS} ms`)),
    );
    req.on("error", (e) => {
      if (!answered) reject(e);
    });
    if (payload === undefined) {
      req.end();
    } else {
      req.end(payload);
    }
  });
}

const get = (p, opts) => request("GET", p, opts);
const auth = { authorization: `Bearer ${key}` };
const adminAuth = { authorization: `Bearer ${adminKey}` };

// The AIP-193 error of an answer, checked for its shape.
function errorOf(res, httpStatus, grpcStatus) {
  assert.equal(res.status, httpStatus, res.text);
  assert.match(res.headers["content-type"] ?? "", /^application\/json/);
  const body = res.json();
  assert.ok(body.error, `no "error" object: ${res.text}`);
  assert.equal(body.error.code, httpStatus, res.text);
  if (grpcStatus) assert.equal(body.error.status, grpcStatus, res.text);
  assert.equal(typeof body.error.message, "string");
  return body.error;
}

function detail(error, type) {
  return (error.details ?? []).find(
    (d) => d["@type"] === `type.googleapis.com/google.rpc.${type}`,
  );
}

// The field violations of a 400's google.rpc.BadRequest.
function violations(error) {
  const bad = detail(error, "BadRequest");
  assert.ok(bad, `no BadRequest detail: ${JSON.stringify(error)}`);
  assert.ok(bad.fieldViolations?.length > 0, JSON.stringify(bad));
  return bad.fieldViolations;
}

function text(texts, lang = "en") {
  return (texts ?? []).find((t) => t.languageCode === lang)?.text;
}

const personBody = (label) => ({
  displayName: [{ languageCode: "en", text: `HTTP ${label}` }],
});

// Creates a person through HTTP and returns its JSON.
async function createPerson(id) {
  const res = await request("POST", `/v1/persons?personId=${id}`, {
    headers: auth,
    body: personBody(id),
  });
  assert.equal(res.status, 200, res.text);
  return res.json();
}

// Follows a Server-Sent Events answer. started() resolves to the answer's
// status and headers; event(pred) to the first event (of those not yet
// taken) that matches; both fail on an early end or after
// STREAM_TIMEOUT_MS. close() disconnects.
function sse(urlPath, headers = {}) {
  const events = [];
  const waiters = [];
  let response = null;
  let ended = false;
  let failed = null;
  let buffer = "";
  let bodyText = "";
  const wake = () => waiters.splice(0).forEach((w) => w());
  const req = http.request({
    host: "127.0.0.1",
    port: httpPort,
    method: "GET",
    path: urlPath,
    headers: { accept: "text/event-stream", ...headers },
    agent: false,
  });
  req.on("response", (res) => {
    response = res;
    res.setEncoding("utf8");
    res.on("data", (chunk) => {
      bodyText += chunk;
      buffer += chunk.replace(/\r\n/g, "\n");
      let i;
      while ((i = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const ev = { id: undefined, event: "message", data: [] };
        for (const line of block.split("\n")) {
          if (line === "" || line.startsWith(":")) continue;
          const c = line.indexOf(":");
          const field = c < 0 ? line : line.slice(0, c);
          let value = c < 0 ? "" : line.slice(c + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "data") ev.data.push(value);
          else if (field === "id") ev.id = value;
          else if (field === "event") ev.event = value;
        }
        ev.data = ev.data.join("\n");
        events.push(ev);
      }
      wake();
    });
    res.on("end", () => {
      ended = true;
      wake();
    });
    res.on("error", () => {
      ended = true;
      wake();
    });
    wake();
  });
  req.on("error", (e) => {
    failed = e;
    wake();
  });
  req.end();
  let taken = 0;
  const until = async (done, what) => {
    const deadline = Date.now() + STREAM_TIMEOUT_MS;
    while (!done() && !failed && !ended && Date.now() < deadline)
      await new Promise((r) => {
        waiters.push(r);
        setTimeout(r, 250);
      });
    if (done()) return;
    assert.equal(failed, null, `${urlPath}: ${failed?.message}`);
    assert.ok(!ended, `${urlPath} ended before ${what}: ${bodyText.slice(0, 1000)}`);
    assert.fail(`${urlPath}: no ${what} within ${STREAM_TIMEOUT_MS} ms`);
  };
  return {
    started: async () => {
      await until(() => response !== null, "answer");
      return { status: response.statusCode, headers: response.headers };
    },
    // The whole answer once it ended (for error answers).
    finished: async () => {
      await until(() => ended, "end");
      return { status: response?.statusCode, headers: response?.headers, text: bodyText };
    },
    event: async (pred = () => true, what = "event") => {
      let found;
      await until(() => {
        for (let i = taken; !found && i < events.length; i++) {
          if (pred(events[i])) {
            found = events[i];
            taken = i + 1;
          }
        }
        return found !== undefined;
      }, what);
      return found;
    },
    all: () => events.slice(),
    close: () => req.destroy(),
  };
}

const change = (ev) => {
  if (ev.event !== "message") return null;
  return JSON.parse(ev.data);
};
const isChange = (ev) => {
  const m = change(ev);
  return m !== null && m.changeType !== "CHANGE_TYPE_CHECKPOINT";
};

describe("gateway HTTP/JSON API", () => {
  before(async () => {
    assert.deepEqual(missing, [], `server binaries not set or absent: ${missing.join(", ")}`);
    const backends = await Promise.all(
      ["membership", "legislation", "events", "monitoring"].map((svc) =>
        startServer(svc, bins[svc], [
          "--listen=127.0.0.1:0",
          "--admin_listen=",
          "--access_log=off",
          "--store=sqlite::memory:",
          `--api_keys_file=${keysFile}`,
        ]).then((ports) => [svc, ports.grpc_port]),
      ),
    );
    backendTargets = backends.map(([svc, port]) => `--${svc}_target=ipv4:127.0.0.1:${port}`);
    const ports = await startServer("gateway", bins.gateway, [
      "--listen=127.0.0.1:0",
      "--admin_listen=127.0.0.1:0",
      `--access_log=${accessLog}`,
      "--http_listen=127.0.0.1:0",
      `--http_cors_origins=${ALLOWED_ORIGIN}`,
      ...backendTargets,
    ]);
    assert.ok(ports.http_port > 0, `no http_port in the port file: ${JSON.stringify(ports)}`);
    assert.ok(ports.admin_port > 0, `no admin_port in the port file: ${JSON.stringify(ports)}`);
    httpPort = ports.http_port;
    adminPort = ports.admin_port;
  });

  describe("reads", () => {
    test("GET /v1/states lists the six member states in JSON names", async () => {
      const res = await get("/v1/states");
      assert.equal(res.status, 200, res.text);
      assert.match(res.headers["content-type"], /^application\/json/);
      const { states } = res.json();
      const names = states.map((s) => s.name);
      for (const s of ["am", "by", "kz", "kg", "ru", "tj"])
        assert.ok(names.includes(`states/${s}`), JSON.stringify(names));
    });

    test("GET /v1/states/kz: lowerCamelCase JSON with an ETag", async () => {
      const res = await get("/v1/states/kz");
      assert.equal(res.status, 200, res.text);
      assert.match(res.headers.etag ?? "", /^"[^"]+"$/, "a strong ETag");
      const kz = res.json();
      assert.equal(kz.name, "states/kz");
      assert.equal(text(kz.displayName), "Kazakhstan");
      assert.equal(kz.currentStatus, "MEMBERSHIP_STATUS_MEMBER");
      assert.ok(kz.provenance.length > 0);
      assert.equal(kz.display_name, undefined, "proto names are not sent");
      assert.equal(kz.current_status, undefined);
    });

    test("pages through every person once with pageSize and nextPageToken", async () => {
      const seen = new Set();
      let token = "";
      let pages = 0;
      do {
        const q = `pageSize=3${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`;
        const res = await get(`/v1/persons?${q}`);
        assert.equal(res.status, 200, res.text);
        const page = res.json();
        assert.ok(page.persons.length <= 3);
        for (const p of page.persons) {
          assert.ok(!seen.has(p.name), `${p.name} twice`);
          seen.add(p.name);
        }
        token = page.nextPageToken ?? "";
        pages += 1;
      } while (token && pages < 100);
      assert.equal(token, "", "the last page has no token");
      assert.ok(pages > 1, "more than one page");
      assert.ok(seen.has("persons/viktor-rogalev"));
    });

    test("query parameters in either spelling: page_size and pageSize", async () => {
      const a = (await get("/v1/states?page_size=2")).json();
      const b = (await get("/v1/states?pageSize=2")).json();
      assert.equal(a.states.length, 2);
      assert.deepEqual(
        a.states.map((s) => s.name),
        b.states.map((s) => s.name),
      );
      assert.ok(a.nextPageToken && b.nextPageToken);
      // The token from one spelling works with the other.
      const next = await get(
        `/v1/states?page_size=2&pageToken=${encodeURIComponent(b.nextPageToken)}`,
      );
      assert.equal(next.status, 200, next.text);
      const names = next.json().states.map((s) => s.name);
      assert.ok(!names.includes(a.states[0].name));
    });

    test("the state profile as of a date, asOf or as_of", async () => {
      const on = async (q) => {
        const res = await get(`/v1/states/kg/profile?${q}`);
        assert.equal(res.status, 200, res.text);
        const p = res.json();
        assert.equal(p.name, "states/kg/profile");
        assert.equal(p.state.name, "states/kg");
        assert.equal(p.delegations.length, 1, JSON.stringify(p.delegations));
        for (const s of p.sections) assert.ok(s.complete, JSON.stringify(s));
        return p;
      };
      const y2022 = await on("as_of=2022-05-01");
      assert.deepEqual(y2022.asOfDate, { year: 2022, month: 5, day: 1 });
      assert.equal(y2022.delegations[0].totalSeats, 6);
      const camel = await on("asOf=2022-05-01");
      assert.equal(camel.delegations[0].totalSeats, 6);
      assert.equal(y2022.delegations[0].seatsKnowledge, "AS_OF_KNOWLEDGE_KNOWN");
      const y2023 = await on("asOf=2023-06-01");
      assert.equal(y2023.delegations[0].totalSeats ?? 0, 0);
      assert.equal(y2023.delegations[0].seatsKnowledge, "AS_OF_KNOWLEDGE_NOT_KNOWN");
      assert.equal(y2023.state.currentStatus, "MEMBERSHIP_STATUS_MEMBER");
      assert.equal(y2023.state.currentStatusKnowledge, "AS_OF_KNOWLEDGE_KNOWN");
      const y2024 = await on("asOf=2024-06-01");
      assert.deepEqual(y2024.asOfDate, { year: 2024, month: 6, day: 1 });
      assert.equal(y2024.delegations[0].totalSeats, 7);
      assert.equal(y2024.delegations[0].seatsKnowledge, "AS_OF_KNOWLEDGE_KNOWN");
    });

    test("the person profile names the person and a role", async () => {
      const res = await get("/v1/persons/viktor-rogalev/profile");
      assert.equal(res.status, 200, res.text);
      const p = res.json();
      assert.equal(p.name, "persons/viktor-rogalev/profile");
      assert.equal(text(p.person.displayName), "Viktor Rogalev");
      assert.equal(p.person.state, "states/kz");
      assert.ok(p.roles.length > 0, JSON.stringify(p));
    });

    test("the dashboard counts the states and seats on a date", async () => {
      const res = await get("/v1/dashboard?asOf=2022-06-01");
      assert.equal(res.status, 200, res.text);
      const d = res.json();
      assert.equal(d.name, "dashboard");
      assert.equal(d.states.length, 6);
      const kg = d.states.find((s) => s.state === "states/kg");
      assert.equal(kg.seats, 6);
      assert.equal(kg.seatsKnowledge, "AS_OF_KNOWLEDGE_KNOWN");
      assert.equal(kg.statusKnowledge, "AS_OF_KNOWLEDGE_KNOWN");
      assert.equal(
        d.totalSeats,
        d.states.reduce((n, s) => n + (s.seats ?? 0), 0),
      );
      assert.equal(d.totalMissions, 11);

      // 2023-06-01: the Kyrgyz seats are not known (between the source
      // giving 6 and the one giving 7), not 0 seats.
      const later = await get("/v1/dashboard?asOf=2023-06-01");
      assert.equal(later.status, 200, later.text);
      const kg2023 = later.json().states.find((s) => s.state === "states/kg");
      assert.equal(kg2023.seatsKnowledge, "AS_OF_KNOWLEDGE_NOT_KNOWN", JSON.stringify(kg2023));
      assert.equal(kg2023.seats ?? 0, 0);
      assert.equal(kg2023.statusKnowledge, "AS_OF_KNOWLEDGE_KNOWN");
      assert.equal(kg2023.status, "MEMBERSHIP_STATUS_MEMBER");
    });

    test("a legislation search finds a seeded statement", async () => {
      const res = await get("/v1/documents:search?query=outer%20space&pageSize=5");
      assert.equal(res.status, 200, res.text);
      const { results } = res.json();
      assert.ok(results?.length > 0, res.text);
      assert.ok(
        results.some((r) => r.document.name === "documents/statement-outer-space-arms-race"),
        JSON.stringify(results.map((r) => r.document.name)),
      );
    });

    test("one search across the record, in either script, with facets and pages", async () => {
      const cyr = await get(`/v1/search?query=${encodeURIComponent("Рогалев")}`);
      assert.equal(cyr.status, 200, cyr.text);
      const body = cyr.json();
      assert.equal(body.hits[0].name, "persons/viktor-rogalev", cyr.text);
      assert.equal(body.hits[0].type, "cstopa.org/Person");
      assert.equal(body.hits[0].title, "Viktor Rogalev");
      assert.match(body.hits[0].snippet, /<mark>/);
      assert.deepEqual(
        body.sections.map((s) => [s.section, s.complete]),
        [["membership", true], ["legislation", true], ["events", true], ["monitoring", true]],
      );
      // Facets add up to the total; pages walk every hit once.
      const all = (await get("/v1/search?query=Kyrgyz&pageSize=100")).json();
      const total = Number(all.totalSize);
      assert.ok(total > 3, JSON.stringify(all.typeCounts));
      assert.equal(all.typeCounts.reduce((n, c) => n + Number(c.count), 0), total);
      const seen = [];
      let token = "";
      for (let i = 0; i < 50; i++) {
        const page = await get(
          `/v1/search?query=Kyrgyz&pageSize=4${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`,
        );
        assert.equal(page.status, 200, page.text);
        const json = page.json();
        seen.push(...(json.hits ?? []).map((h) => h.name));
        token = json.nextPageToken ?? "";
        if (!token) break;
      }
      assert.equal(seen.length, total);
      assert.equal(new Set(seen).size, total);
      // Words are data: a hostile query is words or a 400, never a failure.
      const hostile = await get(`/v1/search?query=${encodeURIComponent('") OR 1=1 --')}`);
      assert.ok([200, 400].includes(hostile.status), hostile.text);
      const empty = await get("/v1/search?query=*");
      const error = errorOf(empty, 400, "INVALID_ARGUMENT");
      assert.equal(detail(error, "ErrorInfo").reason, "INVALID_SEARCH_QUERY");
    });

    test("repeated parameters by repeating the key; enums by name or number", async () => {
      const res = await get("/v1/states:batchGet?names=states/kz&names=states%2Fkg");
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(
        res.json().states.map((s) => s.name),
        ["states/kz", "states/kg"],
      );
      for (const view of ["DOCUMENT_VIEW_FULL", "2"]) {
        const docs = await get(`/v1/documents?view=${view}&pageSize=100`);
        assert.equal(docs.status, 200, `view=${view}: ${docs.text}`);
        assert.ok(docs.json().documents.length > 0);
      }
      const bad = errorOf(await get("/v1/documents?view=DOCUMENT_VIEW_NOPE"), 400, "INVALID_ARGUMENT");
      assert.ok(violations(bad).some((v) => v.field === "view"), JSON.stringify(bad));
    });

    test("x-request-id goes through and comes back", async () => {
      const res = await get("/v1/states/kz", { headers: { "x-request-id": "http-test-42" } });
      assert.equal(res.status, 200);
      assert.equal(res.headers["x-request-id"], "http-test-42");
    });

    test("HEAD gives the headers of GET and no body", async () => {
      const g = await get("/v1/states/kz");
      const h = await request("HEAD", "/v1/states/kz");
      assert.equal(h.status, 200);
      assert.equal(h.body.length, 0);
      assert.equal(h.headers.etag, g.headers.etag);
      assert.match(h.headers["content-type"], /^application\/json/);
      assert.equal(Number(h.headers["content-length"]), g.body.length);
    });
  });

  describe("writes", () => {
    test("create, read, update, delete and undelete a person", async () => {
      const id = `http-crud-${Date.now()}`;
      const path_ = `/v1/persons/${id}`;
      // Without a key: 401 and the JSON error.
      const anon = await request("POST", `/v1/persons?personId=${id}`, {
        body: personBody(id),
      });
      errorOf(anon, 401, "UNAUTHENTICATED");
      assert.equal((await get(path_)).status, 404, "nothing was created");
      // With a wrong key: refused too.
      const wrong = await request("POST", `/v1/persons?personId=${id}`, {
        headers: { authorization: "Bearer not-a-key" },
        body: personBody(id),
      });
      assert.ok([401, 403].includes(wrong.status), wrong.text);

      // With the key, person_id in the proto spelling.
      const res = await request("POST", `/v1/persons?person_id=${id}`, {
        headers: auth,
        body: personBody(id),
      });
      assert.equal(res.status, 200, res.text);
      const created = res.json();
      assert.equal(created.name, `persons/${id}`);
      assert.equal(text(created.displayName), `HTTP ${id}`);
      assert.ok(created.etag, "a person has an etag");
      assert.ok(created.createTime);

      const read = await get(path_);
      assert.equal(read.status, 200, read.text);
      assert.deepEqual(read.json(), created);

      // PATCH with an update mask changes that field only.
      const patched = await request("PATCH", `${path_}?updateMask=state`, {
        headers: auth,
        body: { state: "states/kz", etag: created.etag, displayName: [] },
      });
      assert.equal(patched.status, 200, patched.text);
      const updated = patched.json();
      assert.equal(updated.state, "states/kz");
      assert.equal(text(updated.displayName), `HTTP ${id}`, "not in the mask");
      assert.notEqual(updated.etag, created.etag);

      // A stale etag loses: 409 ABORTED.
      const stale = await request("PATCH", `${path_}?update_mask=state`, {
        headers: auth,
        body: { state: "states/ru", etag: created.etag },
      });
      errorOf(stale, 409, "ABORTED");
      assert.equal((await get(path_)).json().state, "states/kz");

      // Delete (needs an admin's key), then it is gone.
      errorOf(await request("DELETE", path_), 401, "UNAUTHENTICATED");
      errorOf(await request("DELETE", path_, { headers: auth }), 403, "PERMISSION_DENIED");
      // A stale etag loses here too.
      errorOf(
        await request("DELETE", `${path_}?etag=${encodeURIComponent(created.etag)}`, {
          headers: adminAuth,
        }),
        409,
        "ABORTED",
      );
      const del = await request("DELETE", `${path_}?etag=${encodeURIComponent(updated.etag)}`, {
        headers: adminAuth,
      });
      assert.equal(del.status, 200, del.text);
      assert.ok(del.json().deleteTime, del.text);
      errorOf(await get(path_), 404, "NOT_FOUND");
      const shown = await get(`/v1/persons?showDeleted=true&pageSize=1000`);
      assert.ok(
        shown.json().persons.some((p) => p.name === `persons/${id}`),
        "show_deleted lists it",
      );

      // The custom method :undelete brings it back (an admin's too).
      const editorUndel = await request("POST", `${path_}:undelete`, {
        headers: auth,
        body: {},
      });
      const denied = errorOf(editorUndel, 403, "PERMISSION_DENIED");
      assert.equal(detail(denied, "ErrorInfo")?.reason, "INSUFFICIENT_ROLE");
      const undel = await request("POST", `${path_}:undelete`, {
        headers: adminAuth,
        body: {},
      });
      assert.equal(undel.status, 200, undel.text);
      assert.equal(undel.json().deleteTime, undefined);
      const back = await get(path_);
      assert.equal(back.status, 200, back.text);
      assert.equal(back.json().state, "states/kz");
    });

    test("creating an existing person is 409 ALREADY_EXISTS", async () => {
      const res = await request("POST", "/v1/persons?personId=viktor-rogalev", {
        headers: auth,
        body: personBody("again"),
      });
      errorOf(res, 409, "ALREADY_EXISTS");
    });
  });

  describe("errors", () => {
    test("an unknown state is 404 with an ErrorInfo from membership", async () => {
      const error = errorOf(await get("/v1/states/zz"), 404, "NOT_FOUND");
      const info = detail(error, "ErrorInfo");
      assert.ok(info, JSON.stringify(error));
      assert.equal(info.domain, "membership.cstopa.org");
      assert.equal(info.reason, "RESOURCE_NOT_FOUND");
    });

    test("a bad page size is 400 with a field violation", async () => {
      const neg = errorOf(await get("/v1/states?pageSize=-1"), 400, "INVALID_ARGUMENT");
      assert.ok(
        violations(neg).some((v) => /page_?size/i.test(v.field)),
        JSON.stringify(neg),
      );
      const nan = errorOf(await get("/v1/states?pageSize=abc"), 400, "INVALID_ARGUMENT");
      assert.ok(
        violations(nan).some((v) => /page_?size/i.test(v.field)),
        JSON.stringify(nan),
      );
    });

    test("an unknown query parameter is 400 naming it", async () => {
      const error = errorOf(await get("/v1/states?colour=red"), 400, "INVALID_ARGUMENT");
      assert.ok(
        violations(error).some((v) => v.field === "colour") || /colour/.test(error.message),
        JSON.stringify(error),
      );
      assert.match(JSON.stringify(error), /colour/);
    });

    test("a parameter given in both spellings is 400", async () => {
      const error = errorOf(
        await get("/v1/states/kg/profile?asOf=2022-05-01&as_of=2024-05-01"),
        400,
        "INVALID_ARGUMENT",
      );
      assert.ok(violations(error).some((v) => /as_?of/i.test(v.field)), JSON.stringify(error));
    });

    test("a bad date in the query is 400", async () => {
      const error = errorOf(
        await get("/v1/states/kg/profile?asOf=2022-13-45x"),
        400,
        "INVALID_ARGUMENT",
      );
      assert.ok(violations(error).some((v) => /as_?of/i.test(v.field)), JSON.stringify(error));
    });

    test("a body that is not JSON is 400", async () => {
      const res = await request("POST", "/v1/persons?personId=http-bad-json", {
        headers: { ...auth, "content-type": "application/json" },
        body: '{"displayName": [',
      });
      const error = errorOf(res, 400, "INVALID_ARGUMENT");
      violations(error);
      assert.equal((await get("/v1/persons/http-bad-json")).status, 404);
    });

    test("an unknown JSON field is 400 naming it", async () => {
      const res = await request("POST", "/v1/persons?personId=http-bad-field", {
        headers: auth,
        body: { ...personBody("x"), shoeSize: 44 },
      });
      const error = errorOf(res, 400, "INVALID_ARGUMENT");
      assert.match(JSON.stringify(error), /shoeSize/);
      assert.equal((await get("/v1/persons/http-bad-field")).status, 404);
    });

    test("a name in the body other than the path's is 400", async () => {
      const res = await request("PATCH", "/v1/persons/viktor-rogalev?updateMask=state", {
        headers: auth,
        body: { name: "persons/someone-else", state: "states/ru" },
      });
      const error = errorOf(res, 400, "INVALID_ARGUMENT");
      assert.ok(violations(error).some((v) => v.field === "person.name"), JSON.stringify(error));
      assert.equal((await get("/v1/persons/viktor-rogalev")).json().state, "states/kz");
    });

    test("a body on a route that takes none is 400", async () => {
      const res = await request("DELETE", "/v1/persons/viktor-rogalev", {
        headers: auth,
        body: { name: "persons/viktor-rogalev" },
      });
      errorOf(res, 400, "INVALID_ARGUMENT");
      assert.equal((await get("/v1/persons/viktor-rogalev")).status, 200, "not deleted");
    });

    test("a wrong method is 405 with Allow", async () => {
      const res = await request("PUT", "/v1/states/kz", { body: {} });
      assert.equal(res.status, 405, res.text);
      const allow = (res.headers.allow ?? "").split(/,\s*/);
      for (const m of ["GET", "PATCH", "DELETE"]) assert.ok(allow.includes(m), res.headers.allow);
      assert.ok(!allow.includes("PUT"));
      assert.equal(res.json().error.code, 405);
      const list = await request("DELETE", "/v1/states");
      assert.equal(list.status, 405, list.text);
      assert.ok(list.headers.allow.includes("GET") && list.headers.allow.includes("POST"));
    });

    test("an unknown path is 404 JSON", async () => {
      // ("/" is the web pages' index: see "web pages".)
      for (const p of [
        "/v1/nothing",
        "/v2/states/kz",
        "/v1/states/kz/extra/bits",
        "/cstopa.membership.v1.MembershipService/GetState",
      ]) {
        const error = errorOf(await get(p), 404, "NOT_FOUND");
        assert.ok(error.message.length > 0, p);
      }
    });

    test("a body over 1 MiB is 413", async () => {
      const big = JSON.stringify({
        displayName: [{ languageCode: "en", text: "x".repeat((1 << 20) + 16) }],
      });
      const res = await request("POST", "/v1/persons?personId=http-too-big", {
        headers: { ...auth, "content-type": "application/json" },
        body: big,
      });
      assert.equal(res.status, 413, res.text.slice(0, 300));
      assert.equal((await get("/v1/persons/http-too-big")).status, 404);
      // A body just under the limit is read (and refused by the service
      // for what it says, not for its size).
      const near = await request("POST", "/v1/persons?personId=http-near-limit", {
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ ...personBody("near"), state: "s".repeat(900 << 10) }),
      });
      assert.notEqual(near.status, 413, near.text.slice(0, 300));
    });

    test("the 413 is an AIP-193 JSON error like every other", async () => {
      const res = await request("POST", "/v1/persons?personId=http-too-big-json", {
        headers: { ...auth, "content-type": "application/json" },
        body: "[" + "0,".repeat(600 << 10) + "0]",
      });
      errorOf(res, 413);
    });

    test("Expect: 100-continue with a body over the limit is answered at once", async () => {
      // RFC 9110 10.1.1: a 100 (Continue) or the final status, before the
      // body; a client that waits for either must not hang.
      const length = (1 << 20) + 1024;
      const res = await new Promise((resolve, reject) => {
        const req = http.request({
          host: "127.0.0.1",
          port: httpPort,
          method: "POST",
          path: "/v1/persons?personId=http-expect",
          headers: {
            ...auth,
            "content-type": "application/json",
            "content-length": length,
            expect: "100-continue",
          },
          agent: false,
        });
        const timer = setTimeout(() => {
          req.destroy();
          reject(new Error("neither 100 Continue nor an answer within 5 s"));
        }, 5000);
        req.on("continue", () => {
          clearTimeout(timer);
          req.end("x".repeat(length));
        });
        req.on("response", (r) => {
          clearTimeout(timer);
          r.resume();
          r.on("end", () => resolve(r.statusCode));
        });
        req.on("error", (e) => {
          clearTimeout(timer);
          reject(e);
        });
        req.flushHeaders();
      });
      assert.equal(res, 413);
    });

    test("hostile paths get a 4xx and the server keeps serving", async () => {
      const hostile = [
        "/v1/states/%zz",
        "/v1/states/..%2F..",
        "/v1/states/..%2F..%2Fetc%2Fpasswd",
        "/v1/states/%2e%2e/%2e%2e/backends",
        "/v1/states/kz%00",
        "/v1/states/%00",
        `/v1/states/${"a".repeat(20 << 10)}`,
        "/v1/states/%F0%28%8C%28",
        "/v1//states//kz",
      ];
      for (const p of hostile) {
        let res;
        try {
          res = await get(p);
        } catch (e) {
          assert.fail(`${p.slice(0, 60)}: no HTTP answer (${e.message})`);
        }
        assert.ok(res.status >= 400 && res.status < 500, `${p.slice(0, 60)}: ${res.status} ${res.text.slice(0, 200)}`);
        const ok = await get("/v1/states/kz");
        assert.equal(ok.status, 200, `after ${p.slice(0, 60)}`);
      }
    });
  });

  describe("conditional requests and encoding", () => {
    test("If-None-Match with the ETag is 304 with no body", async () => {
      const first = await get("/v1/states/kz");
      const etag = first.headers.etag;
      assert.ok(etag);
      const again = await get("/v1/states/kz", { headers: { "if-none-match": etag } });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
      assert.equal(again.headers.etag, etag);
      const other = await get("/v1/states/kz", { headers: { "if-none-match": '"nope"' } });
      assert.equal(other.status, 200);
      assert.deepEqual(other.json(), first.json());
    });

    test("a changed resource gets a new ETag", async () => {
      const id = `http-etag-${Date.now()}`;
      await createPerson(id);
      const before_ = await get(`/v1/persons/${id}`);
      const etag = before_.headers.etag;
      assert.equal(
        (await get(`/v1/persons/${id}`, { headers: { "if-none-match": etag } })).status,
        304,
      );
      const patched = await request("PATCH", `/v1/persons/${id}?updateMask=state`, {
        headers: auth,
        body: { state: "states/am" },
      });
      assert.equal(patched.status, 200, patched.text);
      const after_ = await get(`/v1/persons/${id}`, { headers: { "if-none-match": etag } });
      assert.equal(after_.status, 200, "the old ETag no longer matches");
      assert.notEqual(after_.headers.etag, etag);
      assert.equal(after_.json().state, "states/am");
    });

    test("a large answer is gzip'd for a client that accepts it", async () => {
      const plain = await get("/v1/persons?pageSize=100");
      assert.equal(plain.status, 200);
      assert.equal(plain.headers["content-encoding"], undefined);
      assert.ok(plain.body.length >= 1024, `${plain.body.length} bytes`);
      const zipped = await get("/v1/persons?pageSize=100", {
        headers: { "accept-encoding": "gzip" },
      });
      assert.equal(zipped.status, 200);
      assert.equal(zipped.headers["content-encoding"], "gzip");
      assert.match(zipped.headers.vary ?? "", /Accept-Encoding/i);
      assert.ok(zipped.body.length < plain.body.length);
      assert.equal(zlib.gunzipSync(zipped.body).toString("utf8"), plain.text);
      // Another representation, another strong validator; each revalidates.
      assert.ok(zipped.headers.etag);
      assert.notEqual(zipped.headers.etag, plain.headers.etag);
      const again = await get("/v1/persons?pageSize=100", {
        headers: { "accept-encoding": "gzip", "if-none-match": zipped.headers.etag },
      });
      assert.equal(again.status, 304);
      // q=0 refuses gzip.
      const refused = await get("/v1/persons?pageSize=100", {
        headers: { "accept-encoding": "gzip;q=0" },
      });
      assert.equal(refused.headers["content-encoding"], undefined);
      assert.equal(refused.text, plain.text);
    });

    test("If-None-Match does not turn a write's answer into a 304", async () => {
      const res = await request("POST", "/cstopa.gateway.v1.GatewayService/ListBackends", {
        headers: { "if-none-match": "*" },
        body: {},
      });
      assert.equal(res.status, 200, res.text);
      assert.ok(Array.isArray(res.json().backends));
    });

    test("HEAD of a stream gives its headers and leaves the connection usable", async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const head = await request("HEAD", "/v1/membership:watch", { agent });
        assert.equal(head.status, 200);
        assert.match(head.headers["content-type"] ?? "", /^text\/event-stream/);
        assert.equal(head.body.length, 0);
        const next = await get("/v1/states/kz", { agent });
        assert.equal(next.status, 200, next.text);
        assert.equal(next.json().name, "states/kz");
      } finally {
        agent.destroy();
      }
    });

    test("a small answer is not gzip'd", async () => {
      const res = await get("/v1/persons/viktor-rogalev", {
        headers: { "accept-encoding": "gzip" },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers["content-encoding"], undefined);
      assert.ok(res.body.length < 1024, `${res.body.length} bytes`);
      res.json();
    });
  });

  describe("web pages", () => {
    const CSP =
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
      "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

    // The page's headers: HTML with the CSP, revalidated, not sniffed.
    function assertPage(res, what) {
      assert.equal(res.status, 200, `${what}: ${res.text.slice(0, 300)}`);
      assert.equal(res.headers["content-type"], "text/html; charset=utf-8", what);
      assert.equal(res.headers["content-security-policy"], CSP, what);
      assert.equal(res.headers["x-content-type-options"], "nosniff", what);
      assert.equal(res.headers["referrer-policy"], "no-referrer", what);
      assert.equal(res.headers["cache-control"], "no-cache", what);
      assert.match(res.headers.etag ?? "", /^"[0-9a-f]+(-gzip)?"$/, what);
    }

    test("GET / is the index page: HTML with the CSP and a module script", async () => {
      const res = await get("/");
      assertPage(res, "/");
      assert.match(res.text, /<script type="module"/);
    });

    test("page URLs of the app and /index.html give the same HTML", async () => {
      const index = await get("/");
      for (const p of [
        "/index.html",
        "/states/kz",
        "/persons/viktor-rogalev",
        "/search",
        "/live",
        "/documents/x",
        "/treaties/y",
      ]) {
        const res = await get(p);
        assertPage(res, p);
        assert.equal(res.text, index.text, p);
        assert.equal(res.headers.etag, index.headers.etag, p);
      }
    });

    test("the module index.html loads is served as JavaScript", async () => {
      const index = await get("/");
      const script = /<script\b[^>]*\btype="module"[^>]*>/.exec(index.text);
      assert.ok(script, "no module script in index.html");
      const src = /\bsrc="([^"]+)"/.exec(script[0]);
      assert.ok(src, `no src in ${script[0]}`);
      const url = new URL(src[1], "http://gateway/");
      const res = await get(url.pathname);
      assert.equal(res.status, 200, `${url.pathname}: ${res.text.slice(0, 200)}`);
      assert.equal(res.headers["content-type"], "text/javascript; charset=utf-8");
      assert.equal(res.headers["x-content-type-options"], "nosniff");
      assert.equal(res.headers["content-security-policy"], undefined, "CSP is for HTML");
      assert.ok(res.body.length > 0);
      assert.notEqual(res.text, index.text);
    });

    test("a missing file is 404, not the index", async () => {
      for (const p of ["/nope.js", "/pages/nope.js", "/nope.css", "/favicon.nope.png"]) {
        errorOf(await get(p), 404, "NOT_FOUND");
      }
    });

    test("HEAD / has the headers of GET and no body", async () => {
      const full = await get("/");
      const head = await request("HEAD", "/");
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers.etag, full.headers.etag);
      assert.equal(head.headers["content-type"], full.headers["content-type"]);
      assert.equal(Number(head.headers["content-length"]), full.body.length);
    });

    test("If-None-Match with the ETag is 304 with no body", async () => {
      const first = await get("/states/kz");
      const again = await get("/states/kz", { headers: { "if-none-match": first.headers.etag } });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
      assert.equal(again.headers.etag, first.headers.etag);
      const other = await get("/", { headers: { "if-none-match": '"nope"' } });
      assert.equal(other.status, 200);
    });

    test("gzip'd for a client that accepts it", async () => {
      const plain = await get("/");
      const zipped = await get("/", { headers: { "accept-encoding": "gzip" } });
      assertPage(zipped, "gzip");
      assert.equal(zipped.headers["content-encoding"], "gzip");
      assert.match(zipped.headers.vary ?? "", /Accept-Encoding/i);
      assert.equal(zlib.gunzipSync(zipped.body).toString("utf8"), plain.text);
      assert.notEqual(zipped.headers.etag, plain.headers.etag);
      const again = await get("/", {
        headers: { "accept-encoding": "gzip", "if-none-match": zipped.headers.etag },
      });
      assert.equal(again.status, 304);
    });

    test("other methods are 405 with Allow: GET, HEAD", async () => {
      for (const [method, p] of [
        ["POST", "/"],
        ["PUT", "/states/kz"],
        ["DELETE", "/index.html"],
      ]) {
        const res = await request(method, p, { body: {} });
        assert.equal(res.status, 405, `${method} ${p}: ${res.text}`);
        assert.equal(res.headers.allow, "GET, HEAD");
        assert.equal(res.json().error.code, 405);
      }
    });

    test("counted under the route \"static\"", async () => {
      await get("/");
      const res = await get("/metrics", { port: adminPort });
      assert.match(res.text, /^cstopa_http_requests_total\{route="static",code="200"\} [1-9]\d*$/m);
    });

    test("--web=false: the pages are 404, the API still answers", async () => {
      const ports = await startServer("gateway-noweb", bins.gateway, [
        "--listen=127.0.0.1:0",
        "--admin_listen=",
        "--access_log=off",
        "--http_listen=127.0.0.1:0",
        "--web=false",
        ...backendTargets,
      ]);
      const port = ports.http_port;
      for (const p of ["/", "/index.html", "/states/kz"]) {
        errorOf(await get(p, { port }), 404, "NOT_FOUND");
      }
      assert.equal((await get("/v1/states/kz", { port })).status, 200);
    });
  });

  describe("CORS", () => {
    test("an allowed Origin gets Access-Control-Allow-Origin, another not", async () => {
      const ok = await get("/v1/states/kz", { headers: { origin: ALLOWED_ORIGIN } });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers["access-control-allow-origin"], ALLOWED_ORIGIN);
      const other = await get("/v1/states/kz", { headers: { origin: "https://evil.example" } });
      assert.equal(other.status, 200);
      assert.equal(other.headers["access-control-allow-origin"], undefined);
      const none = await get("/v1/states/kz");
      assert.equal(none.headers["access-control-allow-origin"], undefined);
      // Errors carry it too, so that a page can read them.
      const err = await get("/v1/states/zz", { headers: { origin: ALLOWED_ORIGIN } });
      assert.equal(err.status, 404);
      assert.equal(err.headers["access-control-allow-origin"], ALLOWED_ORIGIN);
      // Caches must keep answers apart by Origin, errors included.
      for (const res of [ok, other, none, err]) {
        assert.match(res.headers.vary ?? "", /Origin/, `${res.status}: vary ${res.headers.vary}`);
      }
    });

    test("a preflight is 204 with the allowed methods and headers", async () => {
      const res = await request("OPTIONS", "/v1/persons/viktor-rogalev", {
        headers: {
          origin: ALLOWED_ORIGIN,
          "access-control-request-method": "PATCH",
          "access-control-request-headers": "authorization, content-type",
        },
      });
      assert.equal(res.status, 204, res.text);
      assert.equal(res.body.length, 0);
      assert.equal(res.headers["access-control-allow-origin"], ALLOWED_ORIGIN);
      const methods = res.headers["access-control-allow-methods"] ?? "";
      assert.match(methods, /PATCH/);
      const allowed = (res.headers["access-control-allow-headers"] ?? "").toLowerCase();
      assert.match(allowed, /authorization/);
      assert.match(allowed, /content-type/);
    });

    test("a disallowed origin's preflight is 403", async () => {
      const res = await request("OPTIONS", "/v1/persons/viktor-rogalev", {
        headers: {
          origin: "https://evil.example",
          "access-control-request-method": "DELETE",
        },
      });
      assert.equal(res.status, 403, res.text);
      assert.equal(res.headers["access-control-allow-origin"], undefined);
      assert.equal(res.headers["access-control-allow-methods"], undefined);
    });
  });

  describe("Server-Sent Events", () => {
    test("WatchMembership streams a write, and resumes after Last-Event-ID", async () => {
      const first = sse("/v1/membership:watch");
      const head = await first.started();
      assert.equal(head.status, 200);
      assert.match(head.headers["content-type"], /^text\/event-stream/);
      const checkpoint = await first.event(() => true, "first event");
      const cp = change(checkpoint);
      assert.equal(cp.changeType, "CHANGE_TYPE_CHECKPOINT", checkpoint.data);
      assert.ok(checkpoint.id, "a checkpoint carries its resume token as id");
      assert.equal(checkpoint.id, cp.resumeToken);

      const a = `http-watch-a-${Date.now()}`;
      await createPerson(a);
      const seenEv = await first.event(isChange, `the change of ${a}`);
      const seen = change(seenEv);
      assert.equal(seen.changeType, "CHANGE_TYPE_CREATED");
      assert.equal(seen.name, `persons/${a}`);
      assert.equal(seen.person.name, `persons/${a}`);
      assert.ok(seenEv.id, "the change has an id");
      assert.equal(seenEv.id, seen.resumeToken);
      first.close();

      // A write while no one watches; resuming after the first change
      // sees it, and not the first again.
      const b = `http-watch-b-${Date.now()}`;
      await createPerson(b);
      const resumed = sse("/v1/membership:watch", { "last-event-id": seenEv.id });
      assert.equal((await resumed.started()).status, 200);
      const nextEv = await resumed.event(isChange, `the change of ${b}`);
      const next = change(nextEv);
      assert.equal(next.name, `persons/${b}`);
      assert.equal(BigInt(next.sequence), BigInt(seen.sequence) + 1n);
      assert.ok(
        !resumed.all().some((e) => isChange(e) && change(e).name === `persons/${a}`),
        "the earlier change is not sent again",
      );
      resumed.close();
    });

    test("a damaged Last-Event-ID is an error", async () => {
      const s = sse("/v1/membership:watch", { "last-event-id": "not-a-resume-token!!" });
      const res = await s.finished();
      // Before anything was sent, the error is a plain JSON answer.
      assert.equal(res.status, 400, res.text);
      const body = JSON.parse(res.text);
      assert.equal(body.error.code, 400);
      assert.equal(body.error.status, "INVALID_ARGUMENT");
      assert.equal(detail(body.error, "ErrorInfo")?.reason, "INVALID_RESUME_TOKEN", res.text);
      assert.ok(
        violations(body.error).some((v) => v.field === "resume_token"),
        res.text,
      );
    });

    test("a bad watch filter is 400 with the service's reason", async () => {
      const s = sse("/v1/membership:watch?collections=events");
      const res = await s.finished();
      assert.equal(res.status, 400, res.text);
      const info = detail(JSON.parse(res.text).error, "ErrorInfo");
      assert.equal(info?.reason, "INVALID_WATCH_FILTER", res.text);
    });
  });

  describe("generic calls", () => {
    test("POST /<pkg.Service>/<Method> with the whole request", async () => {
      const res = await request("POST", "/cstopa.membership.v1.MembershipService/GetState", {
        body: { name: "states/kz" },
      });
      assert.equal(res.status, 200, res.text);
      const kz = res.json();
      assert.equal(kz.name, "states/kz");
      assert.equal(text(kz.displayName), "Kazakhstan");
      assert.deepEqual(kz, (await get("/v1/states/kz")).json());
      // A gateway view, with a date, in proto names.
      const view = await request(
        "POST",
        "/cstopa.gateway.v1.GatewayService/GetStateProfile",
        { body: { name: "states/kg/profile", as_of: { year: 2024, month: 6, day: 1 } } },
      );
      assert.equal(view.status, 200, view.text);
      assert.equal(view.json().delegations[0].totalSeats, 7);
    });

    test("an unknown method or service is 404", async () => {
      errorOf(
        await request("POST", "/cstopa.membership.v1.MembershipService/NoSuchMethod", { body: {} }),
        404,
        "NOT_FOUND",
      );
      errorOf(
        await request("POST", "/cstopa.nothing.v1.NoService/GetState", { body: {} }),
        404,
        "NOT_FOUND",
      );
    });

    test("a generic call's bad JSON is 400", async () => {
      const res = await request("POST", "/cstopa.membership.v1.MembershipService/GetState", {
        headers: { "content-type": "application/json" },
        body: "{name:",
      });
      errorOf(res, 400, "INVALID_ARGUMENT");
    });
  });

  describe("GET /v1/export", () => {
    const services = [
      "cstopa.membership.v1.MembershipService",
      "cstopa.legislation.v1.LegislationService",
      "cstopa.events.v1.EventsService",
      "cstopa.monitoring.v1.MonitoringService",
    ];
    // The download's lines, parsed, after checking its framing.
    async function download(query = "") {
      const res = await get(`/v1/export${query}`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers["content-type"], "application/gzip");
      assert.match(res.headers["content-disposition"] ?? "", /filename="cstopa-export\.jsonl\.gz"/);
      const lines = zlib.gunzipSync(res.body).toString("utf8").split("\n");
      assert.equal(lines.pop(), "", "the file ends with a newline");
      return lines.map((l) => JSON.parse(l));
    }

    test("is every record of every service as JSON Lines, each service's snapshot token after its records, then the end", async () => {
      const lines = await download();
      assert.equal(lines[0].format, "cstopa-export");
      assert.equal(lines[0].version, 1);
      assert.equal(lines[0].showDeleted, false);
      assert.match(lines[0].exportTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const end = lines.at(-1).end;
      assert.ok(end, `no end line: ${JSON.stringify(lines.at(-1))}`);
      let records = 0;
      let pending = [];
      const snapshots = {};
      for (const line of lines.slice(1, -1)) {
        if (line.type) {
          assert.ok(line.resource?.name, JSON.stringify(line).slice(0, 200));
          pending.push(line);
          records++;
        } else {
          const s = line.snapshot;
          assert.ok(s, `neither a record nor a snapshot: ${JSON.stringify(line)}`);
          assert.ok(services.includes(s.service), s.service);
          assert.ok(s.resumeToken.length > 0);
          assert.equal(s.recordCount, pending.length, s.service);
          // A service's records carry the types of its package.
          const pkg = s.service.slice(0, s.service.lastIndexOf(".") + 1);
          for (const r of pending) assert.ok(r.type.startsWith(pkg), `${r.type} before ${s.service}'s snapshot`);
          snapshots[s.service] = s;
          pending = [];
        }
      }
      assert.deepEqual(Object.keys(snapshots).sort(), [...services].sort());
      assert.equal(pending.length, 0, "records after the last snapshot");
      assert.equal(end.recordCount, records);

      // A record is what Get answers.
      const kz = lines.find((l) => l.type === "cstopa.membership.v1.State" && l.resource.name === "states/kz");
      assert.ok(kz);
      assert.deepEqual(kz.resource, (await get("/v1/states/kz")).json());
      assert.ok(lines.some((l) => l.type === "cstopa.events.v1.Event"));
      assert.ok(lines.some((l) => l.type === "cstopa.legislation.v1.Document"));
      assert.ok(lines.some((l) => l.type === "cstopa.monitoring.v1.Mission"));

      // Watching from a snapshot's token starts with the first write after
      // the export.
      const token = snapshots["cstopa.membership.v1.MembershipService"].resumeToken;
      const stream = sse(`/v1/membership:watch?resumeToken=${encodeURIComponent(token)}`);
      try {
        assert.equal((await stream.started()).status, 200);
        await createPerson("after-http-export");
        const first = change(await stream.event(isChange, "the first change"));
        assert.equal(first.name, "persons/after-http-export");
        assert.equal(first.changeType, "CHANGE_TYPE_CREATED");
      } finally {
        stream.close();
      }
    });

    test("show_deleted adds the deleted records; other parameters are refused", async () => {
      const del = await request("DELETE", "/v1/persons/after-http-export", { headers: adminAuth });
      assert.equal(del.status, 200, del.text);
      const live = await download();
      const all = await download("?show_deleted=true");
      assert.equal(all[0].showDeleted, true);
      const names = (lines) => lines.filter((l) => l.type).map((l) => l.resource.name);
      assert.ok(!names(live).includes("persons/after-http-export"));
      const deleted = all.find((l) => l.resource?.name === "persons/after-http-export");
      assert.ok(deleted?.resource.deleteTime, "the deleted person, with its deleteTime");
      assert.ok(names(all).length > names(live).length);

      const bad = await get("/v1/export?format=xml");
      assert.equal(violations(errorOf(bad, 400, "INVALID_ARGUMENT"))[0].field, "format");
      const badValue = await get("/v1/export?show_deleted=perhaps");
      assert.equal(violations(errorOf(badValue, 400, "INVALID_ARGUMENT"))[0].field, "show_deleted");
    });

    test("each service's export is also its own route, as Server-Sent Events", async () => {
      const stream = sse("/v1/monitoring:export?collections=sourceGaps");
      try {
        assert.equal((await stream.started()).status, 200);
        const first = JSON.parse((await stream.event()).data);
        assert.ok(first.sourceGap?.name.startsWith("sourceGaps/"), JSON.stringify(first));
        const last = JSON.parse((await stream.event((e) => JSON.parse(e.data).resumeToken !== undefined, "the last message")).data);
        assert.ok(Number(last.recordCount) >= 1, JSON.stringify(last));
        await stream.finished();
      } finally {
        stream.close();
      }
    });
  });

  test("GET /v1/openapi.json is an OpenAPI 3 document with the routes", async () => {
    const res = await get("/v1/openapi.json");
    assert.equal(res.status, 200);
    assert.match(res.headers["content-type"], /^application\/json/);
    const doc = res.json();
    assert.ok(String(doc.openapi).startsWith("3."), doc.openapi);
    assert.ok(doc.paths["/v1/states/{state}"]?.get, Object.keys(doc.paths).slice(0, 20).join(" "));
    assert.ok(doc.paths["/v1/states"]?.get);
    assert.ok(doc.paths["/v1/persons/{person}:undelete"]?.post);
    assert.ok(doc.paths["/v1/membership:watch"]?.get);
    assert.ok(doc.components?.schemas?.["cstopa.membership.v1.State"]);
  });

  test("requests share one keep-alive connection", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const paths = [
        "/v1/states/kz",
        "/v1/states/zz",
        "/v1/states?pageSize=2",
        "/v1/persons/viktor-rogalev",
        "/v1/nothing",
        "/v1/openapi.json",
      ];
      const results = [];
      for (const p of paths) results.push(await get(p, { agent }));
      // And some queued at once on the one socket.
      results.push(...(await Promise.all(paths.map((p) => get(p, { agent })))));
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 404, 200, 200, 404, 200, 200, 404, 200, 200, 404, 200],
      );
      assert.ok(results[0].socketPort > 0);
      assert.deepEqual(
        new Set(results.map((r) => r.socketPort)),
        new Set([results[0].socketPort]),
        "one socket",
      );
    } finally {
      agent.destroy();
    }
  });

  test("each request is a line of the access log", async () => {
    const unmatched = `/v1/nothing-${Date.now()}`;
    assert.equal((await get(unmatched)).status, 404);
    await get("/v1/persons/viktor-rogalev");
    const want = (l) =>
      l.msg === "http" && l.path === "/v1/persons/viktor-rogalev" && l.status === 200;
    const notFound = (l) => l.path === unmatched && l.status === 404;
    // The log is written in batches by its own thread: wait for this test's
    // lines (an earlier test's GET of the same person may be there already).
    const deadline = Date.now() + 10000;
    let lines = [];
    while (Date.now() < deadline) {
      lines = fs
        .readFileSync(accessLog, "utf8")
        .split("\n")
        .filter((l) => l.includes('"msg":"http"'))
        .map((l) => JSON.parse(l));
      if (lines.some(notFound) && lines.some(want)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const line = lines.find(want);
    assert.ok(line, `no access log line for the GET: ${lines.slice(-5).map((l) => JSON.stringify(l)).join("\n")}`);
    assert.equal(line.method, "GET");
    assert.equal(line.rpc, "/cstopa.membership.v1.MembershipService/GetPerson");
    assert.ok(
      lines.some(notFound),
      "the unmatched request is logged",
    );
  });

  test("the admin /metrics counts HTTP requests by route and status", async () => {
    await get("/v1/states/kz");
    await get("/v1/states/zz");
    const res = await get("/metrics", { port: adminPort });
    assert.equal(res.status, 200);
    assert.match(res.text, /# TYPE cstopa_http_requests_total counter/);
    const count = (route, code) => {
      const esc = route.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const m = new RegExp(
        `^cstopa_http_requests_total\\{route="${esc}",code="${code}"\\} (\\d+)$`,
        "m",
      ).exec(res.text);
      return m ? Number(m[1]) : 0;
    };
    assert.ok(count("GET /v1/{name=states/*}", 200) >= 1, res.text.slice(0, 3000));
    assert.ok(count("GET /v1/{name=states/*}", 404) >= 1);
    assert.match(res.text, /cstopa_http_request_seconds_count\{route="GET \/v1\/\{name=states\/\*\}"\} \d+/);
  });
});
