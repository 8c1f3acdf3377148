/**
 * watchRun against a live portal with a worker and the Railway sandbox
 * (scripts/live_portal.py --with-worker, which sets UNDERSTUDY_WORKER_SITE): a real clone,
 * followed through the portal's server-sent events until the copy is ready.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";

import { type Run, UnderstudyClient } from "../../src/index.js";

const workerSite = process.env.UNDERSTUDY_WORKER_SITE;

describe("watchRun with a worker", { skip: !workerSite && "needs live_portal.py --with-worker" }, () => {
  const baseUrl = process.env.UNDERSTUDY_URL ?? "";
  const requests: string[] = [];
  const manager = new UnderstudyClient({
    baseUrl,
    token: process.env.UNDERSTUDY_TOKEN,
    fetch: (input, init) => {
      requests.push(`${init?.method ?? "GET"} ${String(input).replace(baseUrl, "")}`);
      return fetch(input, init);
    },
  });

  it("follows a clone live until the copy is ready, then its teardown", { timeout: 300_000 }, async () => {
    const name = `watch-${randomUUID().slice(0, 8)}`;
    const { environment, run } = await manager.createEnvironment({
      site: workerSite ?? "",
      name,
      gdpr_acknowledged: true,
    });
    const seen: Run[] = [];

    const ended = await manager.watchRun(run.id, { onEvent: (event) => seen.push(event) });

    assert.equal(ended.status, "succeeded", JSON.stringify(ended.error));
    assert.ok(ended.staging_url?.startsWith("http://"), ended.staging_url ?? "no URL");
    assert.equal(seen.at(-1)?.status, "succeeded");
    const progress = seen.map((event) => event.progress_percent);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), "progress only grows");
    assert.ok(new Set(seen.map((event) => event.current_step)).size >= 3, "several steps seen");
    // Live events, not polls: one stream (or a few, after reconnects), no GET of the run.
    const streams = requests.filter((request) => request.endsWith(`/runs/${run.id}/events/`));
    assert.ok(streams.length >= 1 && streams.length <= 3, requests.join("\n"));
    assert.ok(!requests.includes(`GET /api/v1/runs/${run.id}/`), requests.join("\n"));
    // (The run's health_check step fetched the staging URL; a run only succeeds if it answered.)

    const teardown = await manager.deleteEnvironment(environment.id);
    assert.equal((await manager.watchRun(teardown.id)).status, "succeeded");
  });
});
