// otlp_check.js — validate an OTLP/HTTP JSON export with a real decoder.
//
// Usage: node otlp_check.js capture.json   (written by test_otlp_export.c:
// {"export": <the request body>, "attempt_traceparents": [...]}).
// Exit 0 = valid, 1 = invalid (messages on stderr), 77 = skipped (node
// packages missing). Needs, on NODE_PATH:
//   protobufjs@7.5.4 and @opentelemetry/otlp-transformer@0.57.2 (its
//   build/src/generated/root.js is protobufjs code generated from the
//   opentelemetry-proto .proto files).
//
// OTLP's JSON differs from the canonical protobuf JSON mapping in one way
// that matters here: trace and span ids are hex, not base64. So the check
// (1) demands lower-case hex ids and decimal-string times, (2) turns the ids
// into bytes and decodes the whole request with fromObject + verify, (3)
// encodes it to protobuf binary and back and compares with the input field
// for field (an unknown or misspelt field would not survive), then (4)
// checks the trace's shape.
"use strict";
const fs = require("fs");
let root;
try {
  require("protobufjs");
  root = require("@opentelemetry/otlp-transformer/build/src/generated/root");
} catch (e) {
  console.error("otlp_check: " + e.message.split("\n")[0]);
  process.exit(77);
}
const pb = root.opentelemetry.proto;
const Req = pb.collector.trace.v1.ExportTraceServiceRequest;
let failures = 0;
const fail = (m) => { console.error("otlp_check: " + m); failures++; };
const check = (c, m) => { if (!c) fail(m); };

const cap = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const input = cap.export;
const spans = [];
for (const rs of input.resourceSpans || [])
  for (const ss of rs.scopeSpans || []) for (const s of ss.spans || []) spans.push(s);

// (1) the OTLP JSON rules
for (const s of spans) {
  check(/^[0-9a-f]{32}$/.test(s.traceId), `traceId ${s.traceId} is not 32 lower-case hex`);
  check(/^[0-9a-f]{16}$/.test(s.spanId), `spanId ${s.spanId} is not 16 lower-case hex`);
  if ("parentSpanId" in s) check(/^[0-9a-f]{16}$/.test(s.parentSpanId), "parentSpanId hex");
  check(typeof s.startTimeUnixNano === "string" && /^\d{19}$/.test(s.startTimeUnixNano),
        `startTimeUnixNano ${s.startTimeUnixNano} is not unix nanos as a string`);
  check(typeof s.endTimeUnixNano === "string" && /^\d{19}$/.test(s.endTimeUnixNano),
        "endTimeUnixNano as a string");
  check(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano), "end before start");
  check(Number.isInteger(s.kind), "kind is the enum number");
  for (const a of s.attributes || [])
    if ("intValue" in a.value) check(typeof a.value.intValue === "string", `${a.key} intValue as a string`);
}

// (2) decode with the generated code
const hexToB64 = (h) => Buffer.from(h, "hex").toString("base64");
const b64ToHex = (b) => Buffer.from(b, "base64").toString("hex");
const mapIds = (obj, f) => {
  const o = JSON.parse(JSON.stringify(obj));
  for (const rs of o.resourceSpans || []) for (const ss of rs.scopeSpans || [])
    for (const s of ss.spans || []) for (const k of ["traceId", "spanId", "parentSpanId"])
      if (k in s) s[k] = f(s[k]);
  return o;
};
const canonical = mapIds(input, hexToB64);
const msg = Req.fromObject(canonical);
const err = Req.verify(msg);
check(err === null, "verify: " + err);

// (3) binary round trip, then back to JSON: nothing lost, nothing renamed
const back = Req.toObject(Req.decode(Req.encode(msg).finish()),
                          { longs: String, enums: Number, bytes: String, defaults: false });
const again = mapIds(back, b64ToHex);
// Key order and empty repeated fields (absent = empty in protobuf) aside.
const norm = (v) => JSON.stringify(v, (k, x) =>
  (x && typeof x === "object" && !Array.isArray(x))
    ? Object.keys(x).sort().filter((key) => !(Array.isArray(x[key]) && x[key].length === 0))
        .reduce((o, key) => (o[key] = x[key], o), {}) : x);
check(norm(again) === norm(input),
      "the request does not survive a protobuf round trip:\n  sent " + norm(input) +
      "\n  back " + norm(again));

// (4) the trace: root -> call span -> three CLIENT attempts
const byName = (n) => spans.filter((s) => s.name === n);
const attr = (s, k) => { const a = (s.attributes || []).find((x) => x.key === k); return a && a.value; };
const rootSpan = byName("sync orders")[0];
const call = spans.find((s) => s.kind === 1 && s !== rootSpan);
const attempts = spans.filter((s) => s.kind === 3);
check(rootSpan && !("parentSpanId" in rootSpan), "a root span without parent");
check(call && call.parentSpanId === rootSpan.spanId, "the call span is a child of the root");
check(attempts.length === 3, "three attempt spans");
const tps = cap.attempt_traceparents;
attempts.forEach((a, i) => {
  check(a.traceId === rootSpan.traceId, "one trace");
  check(a.parentSpanId === call.spanId, `attempt ${i + 1} is a child of the call span`);
  check(tps[i] === `00-${a.traceId}-${a.spanId}-01`, `attempt ${i + 1} sent its own traceparent`);
  const rc = attr(a, "http.request.resend_count");
  check(i === 0 ? rc === undefined : rc && rc.intValue === String(i), `resend_count of attempt ${i + 1}`);
  check(attr(a, "http.request.method").stringValue === "GET", "http.request.method");
  check(/token=REDACTED/.test(attr(a, "url.full").stringValue), "url.full redacted");
  check(attr(a, "server.address").stringValue === "127.0.0.1", "server.address");
  check(/^\d+$/.test(attr(a, "server.port").intValue), "server.port");
  const sc = attr(a, "http.response.status_code").intValue;
  check(sc === (i < 2 ? "503" : "200"), `status of attempt ${i + 1}`);
  if (i < 2) {
    check(attr(a, "error.type").stringValue === "503", "error.type on a 503");
    check(a.status && a.status.code === 2, "status ERROR on a 503");
  } else {
    check(attr(a, "error.type") === undefined && !a.status, "no error on the 200");
  }
});
const svc = input.resourceSpans[0].resource.attributes.find((x) => x.key === "service.name");
check(svc && svc.value.stringValue === "e2e-traces", "service.name");
if (failures) process.exit(1);
console.log(`otlp_check: ${spans.length} spans decoded and checked`);
