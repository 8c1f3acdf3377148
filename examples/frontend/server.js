// The example's own server (Node 20, node:http only). It holds the Understudy API token and
// talks to the portal with the TypeScript client; the browser talks only to this server, so the
// token never reaches a page. Run events are passed on to the browser as server-sent events.
//
//   UNDERSTUDY_URL=https://understudy.example.com UNDERSTUDY_TOKEN=us_... PORT=3000 node server.js
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";

import { UnderstudyClient, UnderstudyError } from "@understudy/client";

const baseUrl = process.env.UNDERSTUDY_URL;
const token = process.env.UNDERSTUDY_TOKEN;
if (!baseUrl || !token) {
  console.error("Set UNDERSTUDY_URL and UNDERSTUDY_TOKEN (an API token of an account manager).");
  process.exit(2);
}
const understudy = new UnderstudyClient({ baseUrl, token });
const publicDir = join(import.meta.dirname, "public");
const STATIC = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["app.js", "text/javascript; charset=utf-8"],
};

function send(response, status, body) {
  response.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
  response.end(JSON.stringify(body));
}

function failure(response, error) {
  if (error instanceof UnderstudyError) {
    // The portal's stable code and message pass through; its status too (a network error: 502).
    const status = error.status || 502;
    send(response, status, { error: { code: error.code, message: error.message, details: error.details } });
  } else {
    console.error(error);
    send(response, 500, { error: { code: "internal_error", message: "The example server failed." } });
  }
}

async function readJson(request) {
  let text = "";
  for await (const chunk of request) {
    text += chunk;
    if (text.length > 10_000) throw new UnderstudyError("validation_error", "Body too large.", { status: 413 });
  }
  try {
    return JSON.parse(text || "{}");
  } catch {
    throw new UnderstudyError("parse_error", "The body is not JSON.", { status: 400 });
  }
}

/** The run's changes as server-sent events, from the portal's own stream (or polling). */
async function streamRun(request, response, runId) {
  const stop = new AbortController();
  request.on("close", () => stop.abort());
  response.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
  });
  response.write("retry: 3000\n\n");
  try {
    const ended = await understudy.watchRun(runId, {
      signal: stop.signal,
      onEvent: (run) => response.write(`event: run\ndata: ${JSON.stringify(run)}\n\n`),
    });
    response.write(`event: end\ndata: ${JSON.stringify(ended)}\n\n`);
  } catch (error) {
    if (!stop.signal.aborted) {
      const code = error instanceof UnderstudyError ? error.code : "internal_error";
      response.write(`event: failure\ndata: ${JSON.stringify({ code, message: String(error.message) })}\n\n`);
    }
  }
  response.end();
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? "/", "http://localhost");
  const path = url.pathname;
  try {
    if (request.method === "GET" && STATIC[path]) {
      const [file, type] = STATIC[path];
      response.writeHead(200, { "Content-Type": type });
      response.end(await readFile(join(publicDir, file)));
    } else if (request.method === "GET" && path === "/api/sites") {
      send(response, 200, await understudy.listSites({ page_size: 200 }));
    } else if (request.method === "GET" && path === "/api/environments") {
      const site = url.searchParams.get("site") ?? undefined;
      send(response, 200, await understudy.listEnvironments({ site, page_size: 200 }));
    } else if (request.method === "POST" && path === "/api/environments") {
      const body = await readJson(request);
      const created = await understudy.createEnvironment(
        {
          site: String(body.site ?? ""),
          name: body.name ? String(body.name) : undefined,
          // Exactly what the person ticked: the acknowledgement is theirs, never assumed.
          gdpr_acknowledged: body.personal_data_acknowledged === true,
        },
        { idempotencyKey: typeof body.request_id === "string" ? body.request_id : undefined },
      );
      send(response, 202, created);
    } else if (request.method === "DELETE" && /^\/api\/environments\/[0-9]+$/.test(path)) {
      send(response, 202, { run: await understudy.deleteEnvironment(Number(path.split("/")[3])) });
    } else if (request.method === "GET" && /^\/api\/runs\/[0-9]+\/events$/.test(path)) {
      await streamRun(request, response, Number(path.split("/")[3]));
    } else {
      send(response, 404, { error: { code: "not_found", message: "Nothing is at this address." } });
    }
  } catch (error) {
    failure(response, error);
  }
});

const port = Number(process.env.PORT ?? 3000);
server.listen(port, "127.0.0.1", () => {
  console.log(`Staging copies example at http://127.0.0.1:${server.address().port}/`);
});
