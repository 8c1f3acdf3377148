/**
 * Against a live portal started by scripts/live_portal.py (UNDERSTUDY_URL, UNDERSTUDY_TOKEN,
 * UNDERSTUDY_VIEWER_TOKEN, UNDERSTUDY_SITE). No worker runs: runs stay queued until cancelled
 * (test/worker/ runs with one).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";

import { UnderstudyClient, UnderstudyError, WaitTimeoutError } from "../src/index.js";

const baseUrl = required("UNDERSTUDY_URL");
const site = required("UNDERSTUDY_SITE");
const manager = new UnderstudyClient({ baseUrl, token: required("UNDERSTUDY_TOKEN") });
const viewer = new UnderstudyClient({ baseUrl, token: required("UNDERSTUDY_VIEWER_TOKEN") });

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through scripts/live_portal.py`);
  return value;
}

function uniqueName(): string {
  return `ts-${randomUUID().slice(0, 8)}`;
}

async function newClone() {
  return manager.createEnvironment({ site, name: uniqueName(), gdpr_acknowledged: true });
}

async function readyEnvironment(name: string) {
  const page = await manager.listEnvironments({ site: "globex", status: "ready" });
  const environment = page.results.find((candidate) => candidate.name === name);
  assert.ok(environment, `the live portal seeds ${name}`);
  return environment;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string, status: number) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof UnderstudyError);
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    return true;
  });
}

describe("reading", () => {
  it("lists sites and gets one", async () => {
    const page = await viewer.listSites();
    const acme = page.results.find((candidate) => candidate.slug === site);
    assert.ok(acme);
    assert.equal((await viewer.getSite(acme.id)).slug, site);
  });

  it("lists environments with filters and follows the pages", async () => {
    const page = await viewer.listEnvironments({ site: "globex", page_size: 1 });
    assert.equal(page.results.length, 1);
    assert.ok(page.next);
    const all = [];
    for await (const environment of viewer.iterateEnvironments({ site: "globex", page_size: 1 })) {
      all.push(environment);
    }
    assert.ok(all.length >= 2);
    assert.ok(all.every((environment) => environment.site.slug === "globex"));
  });
});

describe("changing", () => {
  it("creates an environment and gets back a queued clone", async () => {
    const { environment, run } = await newClone();
    assert.equal(run.operation, "clone");
    assert.equal(run.status, "queued");
    assert.equal(run.environment, environment.id);
    assert.deepEqual(environment.latest_run, { id: run.id, status: "queued" });
    assert.equal((await manager.getEnvironment(environment.id)).name, environment.name);
  });

  it("extends an environment", async () => {
    const environment = await readyEnvironment("ready-one");
    const extended = await manager.extendEnvironment(environment.id, 3);
    assert.ok(Date.parse(extended.expires_at) > Date.parse(environment.expires_at));
  });

  it("refreshes an environment", async () => {
    const environment = await readyEnvironment("ready-two");
    await assert.rejects(manager.refreshEnvironment(environment.id), {
      code: "gdpr_acknowledgement_required",
      status: 400,
    });
    const { run } = await manager.refreshEnvironment(environment.id, { gdprAcknowledged: true });
    assert.equal(run.operation, "refresh");
    await manager.cancelRun(run.id);
  });

  it("deletes an environment by queuing its teardown", async () => {
    const environment = await readyEnvironment("ready-three");
    const run = await manager.deleteEnvironment(environment.id);
    assert.equal(run.operation, "teardown");
    assert.equal(run.status, "queued");
  });

  it("replays a create sent twice with the same idempotency key", async () => {
    const request = { site, name: uniqueName(), gdpr_acknowledged: true };
    const idempotencyKey = randomUUID();
    const first = await manager.createEnvironment(request, { idempotencyKey });
    const again = await manager.createEnvironment(request, { idempotencyKey });
    assert.equal(again.run.id, first.run.id);
    await rejectsWithCode(
      manager.createEnvironment({ ...request, name: uniqueName() }, { idempotencyKey }),
      "idempotency_key_reused",
      409,
    );
  });
});

describe("errors", () => {
  it("carry the portal's stable codes", async () => {
    await rejectsWithCode(
      viewer.createEnvironment({ site, gdpr_acknowledged: true }),
      "permission_denied",
      403,
    );
    await rejectsWithCode(
      manager.createEnvironment({ site, name: "Not Valid", gdpr_acknowledged: true }),
      "invalid_name",
      400,
    );
    await rejectsWithCode(
      manager.createEnvironment({ site, gdpr_acknowledged: false }),
      "gdpr_acknowledgement_required",
      400,
    );
    await rejectsWithCode(manager.getRun(999_999_999), "not_found", 404);
    const stranger = new UnderstudyClient({ baseUrl, token: "us_wrong" });
    await rejectsWithCode(stranger.listSites(), "authentication_failed", 401);
  });

  it("carry field errors in details", async () => {
    await assert.rejects(
      manager.createEnvironment({ site: "no-such-site", gdpr_acknowledged: true }),
      (error: unknown) => {
        assert.ok(error instanceof UnderstudyError);
        assert.equal(error.code, "validation_error");
        assert.ok("site" in error.details);
        return true;
      },
    );
  });

  it("say when the portal cannot be reached", async () => {
    const nowhere = new UnderstudyClient({ baseUrl: "http://127.0.0.1:9", token: "us_x" });
    await rejectsWithCode(nowhere.listSites(), "network_error", 0);
  });
});

describe("polling", () => {
  it("gets 304 for an unchanged run when it sends the ETag", async () => {
    const { run } = await newClone();
    const first = await manager.pollRun(run.id);
    assert.ok(first.etag && first.run);
    const second = await manager.pollRun(run.id, { run: first.run, etag: first.etag });
    assert.equal(second.notModified, true);
    assert.equal(second.run, first.run);
  });

  it("waits for a run until it ends", async () => {
    const { run } = await newClone();
    const seen: string[] = [];
    setTimeout(() => void manager.cancelRun(run.id), 150);
    const ended = await manager.waitForRun(run.id, {
      initialDelayMs: 20,
      maxDelayMs: 50,
      timeoutMs: 10_000,
      onProgress: (progress) => seen.push(progress.status),
    });
    assert.equal(ended.status, "cancelled");
    assert.deepEqual([seen[0], seen.at(-1)], ["queued", "cancelled"]);
  });

  it("stops waiting when its signal is aborted", async () => {
    const { run } = await newClone();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    await assert.rejects(
      manager.waitForRun(run.id, { signal: controller.signal, initialDelayMs: 5_000 }),
      (error: unknown) => error instanceof DOMException && error.name === "AbortError",
    );
    assert.ok(Date.now() - started < 2_000);
  });

  it("backs off between polls, answers from 304s and gives up at its timeout", async () => {
    const { run } = await newClone();
    const polls: { at: number; status: number }[] = [];
    const counting = new UnderstudyClient({
      baseUrl,
      token: required("UNDERSTUDY_TOKEN"),
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        polls.push({ at: Date.now(), status: response.status });
        return response;
      },
    });
    await assert.rejects(
      counting.waitForRun(run.id, {
        initialDelayMs: 40,
        factor: 2,
        maxDelayMs: 160,
        timeoutMs: 800,
      }),
      (error: unknown) => {
        assert.ok(error instanceof WaitTimeoutError);
        assert.equal(error.code, "wait_timeout");
        assert.equal(error.lastRun?.status, "queued");
        return true;
      },
    );
    const gaps = polls.slice(1).map((poll, index) => poll.at - (polls[index]?.at ?? 0));
    // 40, 80, 160, 160, ... ms: growing, then capped, with some slack for the server's time.
    assert.ok(polls.length >= 4 && polls.length <= 10, `polled ${polls.length} times`);
    assert.ok((gaps[1] ?? 0) > (gaps[0] ?? 0), `gaps ${gaps.join(", ")}`);
    assert.ok(gaps.every((gap) => gap < 400), `gaps ${gaps.join(", ")}`);
    assert.equal(polls[0]?.status, 200);
    assert.ok(polls.slice(1).every((poll) => poll.status === 304));
  });
});
