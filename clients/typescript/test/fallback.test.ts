/**
 * The client's answers to a portal that says "not now": 429 with Retry-After while polling, and
 * a refused or failing event stream (watchRun falls back to polling). The portal's side of these
 * is tested in Python (tests/api/test_throttling.py, test_run_events.py); here the answers come
 * from a stand-in fetch, so that their timing is the test's to choose.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { type Run, UnderstudyClient, UnderstudyError } from "../src/index.js";

const baseUrl = "http://portal.test";

function run(status: Run["status"], progress = 0): Run {
  return {
    id: 7,
    environment: 3,
    operation: "clone",
    status,
    trigger: "api",
    progress_percent: progress,
    current_step: null,
    steps: [],
    error: null,
    staging_url: status === "succeeded" ? "https://spring.example.com" : null,
    cancel_requested: false,
    created_at: "2026-12-01T10:00:00Z",
    started_at: null,
    finished_at: null,
    metrics: {},
  } as unknown as Run;
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

function throttled(retryAfter: number): Response {
  const body = {
    error: { code: "throttled", message: "Slow down.", details: { retry_after: retryAfter } },
  };
  return json(body, 429, { "Retry-After": String(retryAfter) });
}

function stream(text: string): Response {
  return new Response(text, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

function event(data: Run, id: string, name = "run"): string {
  return `id: ${id}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A fetch answering from a script of (URL part, answer) pairs, in order, and recording calls. */
function scripted(answers: [string, () => Response][]) {
  const calls: { url: string; at: number; headers: Headers }[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    calls.push({ url, at: Date.now(), headers: new Headers(init?.headers) });
    const next = answers.shift();
    assert.ok(next, `unexpected call ${url}`);
    assert.ok(url.includes(next[0]), `${url} instead of ${next[0]}`);
    return next[1]();
  };
  return { calls, fetch: fetchImpl as typeof fetch };
}

describe("a 429", () => {
  it("makes waitForRun wait the Retry-After seconds, then go on polling", async () => {
    const portal = scripted([
      ["/runs/7/", () => json(run("running", 10), 200, { ETag: '"a"' })],
      ["/runs/7/", () => throttled(1)],
      ["/runs/7/", () => json(run("succeeded", 100), 200, { ETag: '"b"' })],
    ]);
    const client = new UnderstudyClient({ baseUrl, token: "us_x", fetch: portal.fetch });

    const ended = await client.waitForRun(7, { initialDelayMs: 10, maxDelayMs: 10 });

    assert.equal(ended.status, "succeeded");
    const [first, second, third] = portal.calls.map((call) => call.at);
    assert.ok((second ?? 0) - (first ?? 0) < 500);
    assert.ok((third ?? 0) - (second ?? 0) >= 950, "waited Retry-After's second");
  });

  it("reaches the caller of any other call as a throttled error with retryAfter", async () => {
    const portal = scripted([["/sites/", () => throttled(12)]]);
    const client = new UnderstudyClient({ baseUrl, token: "us_x", fetch: portal.fetch });

    await assert.rejects(client.listSites(), (error: unknown) => {
      assert.ok(error instanceof UnderstudyError);
      assert.equal(error.code, "throttled");
      assert.equal(error.status, 429);
      assert.equal(error.retryAfter, 12);
      return true;
    });
  });
});

describe("watchRun", () => {
  it("reads events split anywhere, skips keep-alives and resumes with Last-Event-ID", async () => {
    const first = `retry: 5\n\n${event(run("queued"), "e1")}: keep-alive\n\n${event(run("running", 30), "e2")}`;
    const portal = scripted([
      [
        "/runs/7/events/",
        () => {
          // Cut into 3-byte chunks, so that lines and characters arrive in pieces.
          const bytes = new TextEncoder().encode(first);
          const body = new ReadableStream<Uint8Array>({
            start(controller) {
              for (let at = 0; at < bytes.length; at += 3) controller.enqueue(bytes.slice(at, at + 3));
              controller.close();
            },
          });
          return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
        },
      ],
      [
        "/runs/7/events/",
        () => stream(event(run("succeeded", 100), "e3") + event(run("succeeded", 100), "e3", "end").replace(/data: .*/, 'data: {"status":"succeeded"}')),
      ],
    ]);
    const client = new UnderstudyClient({ baseUrl, token: "us_x", fetch: portal.fetch });
    const seen: string[] = [];

    const ended = await client.watchRun(7, { onEvent: (changed) => seen.push(changed.status) });

    assert.equal(ended.status, "succeeded");
    assert.deepEqual(seen, ["queued", "running", "succeeded"]);
    assert.equal(portal.calls[0]?.headers.get("Last-Event-ID"), null);
    assert.equal(portal.calls[1]?.headers.get("Last-Event-ID"), "e2");
    assert.equal(portal.calls[1]?.headers.get("Accept"), "text/event-stream");
    assert.equal(portal.calls[1]?.headers.get("Authorization"), "Bearer us_x");
  });

  it("falls back to polling when the portal refuses a stream (503 event_streams_busy)", async () => {
    const busy = {
      error: { code: "event_streams_busy", message: "Too many.", details: { retry_after: 30 } },
    };
    const portal = scripted([
      ["/runs/7/events/", () => json(busy, 503, { "Retry-After": "30" })],
      ["/runs/7/", () => json(run("succeeded", 100), 200, { ETag: '"z"' })],
    ]);
    const client = new UnderstudyClient({ baseUrl, token: "us_x", fetch: portal.fetch });
    const seen: string[] = [];

    const ended = await client.watchRun(7, { onEvent: (changed) => seen.push(changed.status) });

    assert.equal(ended.status, "succeeded");
    assert.deepEqual(seen, ["succeeded"]);
  });

  it("falls back to polling when a 429 answers the stream", async () => {
    const portal = scripted([
      ["/runs/7/events/", () => throttled(1)],
      ["/runs/7/", () => json(run("failed"), 200, { ETag: '"y"' })],
    ]);
    const client = new UnderstudyClient({ baseUrl, token: "us_x", fetch: portal.fetch });

    assert.equal((await client.watchRun(7)).status, "failed");
  });

  it("falls back to polling after streams that drop without an event, three in a row", async () => {
    const portal = scripted([
      ["/runs/7/events/", () => stream("retry: 1\n\n")],
      ["/runs/7/events/", () => { throw new TypeError("fetch failed"); }],
      ["/runs/7/events/", () => stream(": keep-alive\n\n")],
      ["/runs/7/", () => json(run("succeeded", 100), 200, { ETag: '"x"' })],
    ]);
    const client = new UnderstudyClient({ baseUrl, token: "us_x", fetch: portal.fetch });

    const ended = await client.watchRun(7, { reconnectDelayMs: 1 });

    assert.equal(ended.status, "succeeded");
    assert.equal(portal.calls.length, 4);
  });

  it("passes a refusal that a reconnect would meet again to the caller", async () => {
    const missing = { error: { code: "not_found", message: "No such run.", details: {} } };
    const portal = scripted([["/runs/7/events/", () => json(missing, 404)]]);
    const client = new UnderstudyClient({ baseUrl, token: "us_x", fetch: portal.fetch });

    await assert.rejects(client.watchRun(7), { code: "not_found", status: 404 });
  });

  it("stops when its signal is aborted", async () => {
    const controller = new AbortController();
    const portal = scripted([
      [
        "/runs/7/events/",
        () => new Response(new ReadableStream({ start() {} }), { headers: { "Content-Type": "text/event-stream" } }),
      ],
    ]);
    const client = new UnderstudyClient({ baseUrl, token: "us_x", fetch: portal.fetch });
    setTimeout(() => controller.abort(), 50);

    await assert.rejects(
      client.watchRun(7, { signal: controller.signal }),
      (error: unknown) => error instanceof DOMException && error.name === "AbortError",
    );
  });
});
