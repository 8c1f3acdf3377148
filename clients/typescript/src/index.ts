/**
 * A typed client for the Understudy API (/api/v1/). It needs nothing but `fetch`, so it runs in
 * browsers and in Node 18+. Types come from the portal's OpenAPI schema (src/schema.ts, made by
 * `npm run generate`; a test fails when they drift apart).
 */

import type { components, operations } from "./schema.js";

type Schemas = components["schemas"];

export type Site = Schemas["Site"];
export type Environment = Schemas["Environment"];
export type EnvironmentStatus = Schemas["EnvironmentStatusEnum"];
export type Run = Schemas["Run"];
export type RunStatus = Schemas["RunStatusEnum"];
export type Step = Schemas["Step"];
export type AuditEvent = Schemas["AuditEvent"];
export type CreateEnvironmentRequest = Schemas["EnvironmentCreateRequest"];
export type RefreshEnvironmentRequest = Schemas["RefreshRequest"];
export type EnvironmentWithRun = Schemas["EnvironmentWithRun"];
export type ErrorBody = Schemas["Error"];
export type EnvironmentFilters = NonNullable<operations["environments_list"]["parameters"]["query"]>;
export type SiteListParameters = NonNullable<operations["sites_list"]["parameters"]["query"]>;
export type AuditFilters = NonNullable<operations["audit_list"]["parameters"]["query"]>;

export interface Page<T> {
  count?: number;
  next?: string | null;
  previous?: string | null;
  results: T[];
}

/** The portal's stable error codes (docs/api.md), plus the client's own. */
export type ErrorCode =
  | "not_authenticated"
  | "authentication_failed"
  | "permission_denied"
  | "not_found"
  | "method_not_allowed"
  | "not_acceptable"
  | "unsupported_media_type"
  | "throttled"
  | "validation_error"
  | "parse_error"
  | "internal_error"
  | "gdpr_acknowledgement_required"
  | "idempotency_key_reused"
  | "invalid_idempotency_key"
  | "invalid_name"
  | "name_taken"
  | "invalid_state"
  | "run_in_progress"
  | "invalid_lifetime"
  | "event_streams_busy"
  // The client's own: no answer at all, an answer that is not the API's, or waitForRun's limit.
  | "network_error"
  | "unexpected_response"
  | "wait_timeout"
  // Codes added by later versions of the portal still arrive, as plain strings.
  | (string & {});

/** Any failure of a call: `code` is stable and safe to branch on; `message` is for people. */
export class UnderstudyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown>;
  /** Seconds to wait before trying again, when the portal said so (429). */
  readonly retryAfter: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      status?: number;
      details?: Record<string, unknown>;
      retryAfter?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "UnderstudyError";
    this.code = code;
    this.status = options.status ?? 0;
    this.details = options.details ?? {};
    this.retryAfter = options.retryAfter;
  }
}

/** waitForRun gave up before the run ended; `lastRun` is what it saw last. */
export class WaitTimeoutError extends UnderstudyError {
  readonly lastRun: Run | undefined;

  constructor(runId: number, timeoutMs: number, lastRun: Run | undefined) {
    super("wait_timeout", `Run ${runId} had not ended after ${timeoutMs} ms.`, {
      details: { run: runId },
    });
    this.name = "WaitTimeoutError";
    this.lastRun = lastRun;
  }
}

export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set([
  "succeeded",
  "failed",
  "errored",
  "cancelled",
]);

export interface ClientOptions {
  /** The portal's address, e.g. https://understudy.example.com (no /api/v1). */
  baseUrl: string;
  /** An API token (us_...). Without one, the browser's session cookie is used. */
  token?: string;
  /** Defaults to the global fetch; pass another to add logging, retries or tests. */
  fetch?: typeof fetch;
  /** Sent as X-Understudy-Source, so the audit log says where calls came from. */
  source?: "kestra";
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface PostOptions extends CallOptions {
  /** A unique string (a UUID): retrying with the same key replays the first answer. */
  idempotencyKey?: string;
}

export interface RefreshOptions extends PostOptions {
  /** The person confirmed that the fresh copy holds production personal data. */
  gdprAcknowledged?: boolean;
}

export interface RunPoll {
  /** The run; on 304 the one given as `previous`. */
  run: Run | undefined;
  etag: string | undefined;
  notModified: boolean;
}

export interface WaitOptions extends CallOptions {
  /** Give up (WaitTimeoutError) after this long; no limit by default. */
  timeoutMs?: number;
  /** First pause between polls; grows by `factor` up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  /** Called whenever the run changed: progress bars, step lists. */
  onProgress?: (run: Run) => void;
}

export interface WatchOptions extends CallOptions {
  /** Called with the run each time it changes (a live event, or a poll after falling back). */
  onEvent?: (run: Run) => void;
  /** Streams that fail in a row (no event) before watchRun falls back to polling. Default 3. */
  maxStreamFailures?: number;
  /** Pause before reconnecting, until the portal's `retry:` says otherwise. Default 3000. */
  reconnectDelayMs?: number;
  /** How to poll once watchRun falls back to it (see waitForRun). */
  polling?: Omit<WaitOptions, "signal" | "onProgress">;
}

/** One server-sent event, as the portal's run events send them. */
interface ServerSentEvent {
  id: string | undefined;
  event: string;
  data: string;
  retry: number | undefined;
}

interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

export class UnderstudyClient {
  private readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly source: string | undefined;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.token = options.token;
    // Bound, because some fetch implementations refuse to run with another `this`.
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.source = options.source;
  }

  listSites(parameters: SiteListParameters = {}, options: CallOptions = {}): Promise<Page<Site>> {
    return this.get(`/api/v1/sites/${query(parameters)}`, options);
  }

  getSite(id: number, options: CallOptions = {}): Promise<Site> {
    return this.get(`/api/v1/sites/${id}/`, options);
  }

  listEnvironments(
    filters: EnvironmentFilters = {},
    options: CallOptions = {},
  ): Promise<Page<Environment>> {
    return this.get(`/api/v1/environments/${query(filters)}`, options);
  }

  /** Every environment matching `filters`, following the pages. */
  async *iterateEnvironments(
    filters: EnvironmentFilters = {},
    options: CallOptions = {},
  ): AsyncGenerator<Environment> {
    let page = await this.listEnvironments(filters, options);
    for (;;) {
      yield* page.results;
      if (!page.next) return;
      page = (await this.call<Page<Environment>>("GET", page.next, options)).body;
    }
  }

  getEnvironment(id: number, options: CallOptions = {}): Promise<Environment> {
    return this.get(`/api/v1/environments/${id}/`, options);
  }

  /** Queues a clone; the answer comes at once, with the run to follow (see waitForRun). */
  async createEnvironment(
    request: CreateEnvironmentRequest,
    options: PostOptions = {},
  ): Promise<EnvironmentWithRun> {
    return (await this.call<EnvironmentWithRun>("POST", "/api/v1/environments/", options, request))
      .body;
  }

  /** Queues the teardown; returns its run. */
  async deleteEnvironment(id: number, options: CallOptions = {}): Promise<Run> {
    const answer = await this.call<{ run: Run }>("DELETE", `/api/v1/environments/${id}/`, options);
    return answer.body.run;
  }

  /**
   * Queues a fresh copy of production's data into the environment. The copy holds production
   * personal data again: unless the site masks it, pass `gdprAcknowledged: true` once the person
   * has confirmed (otherwise `gdpr_acknowledgement_required`).
   */
  async refreshEnvironment(id: number, options: RefreshOptions = {}): Promise<EnvironmentWithRun> {
    const path = `/api/v1/environments/${id}/refresh/`;
    const body: RefreshEnvironmentRequest = { gdpr_acknowledged: options.gdprAcknowledged ?? false };
    return (await this.call<EnvironmentWithRun>("POST", path, options, body)).body;
  }

  async extendEnvironment(id: number, days = 7, options: PostOptions = {}): Promise<Environment> {
    const path = `/api/v1/environments/${id}/extend/`;
    return (await this.call<Environment>("POST", path, options, { days })).body;
  }

  async getRun(id: number, options: CallOptions = {}): Promise<Run> {
    return this.get(`/api/v1/runs/${id}/`, options);
  }

  /** One conditional poll: with the last ETag, an unchanged run costs a bodiless 304. */
  async pollRun(
    id: number,
    previous?: { run: Run; etag: string },
    options: CallOptions = {},
  ): Promise<RunPoll> {
    const headers: Record<string, string> = previous ? { "If-None-Match": previous.etag } : {};
    const answer = await this.call<Run | undefined>("GET", `/api/v1/runs/${id}/`, {
      ...options,
      headers,
    });
    const etag = answer.headers.get("ETag") ?? previous?.etag;
    if (answer.status === 304) return { run: previous?.run, etag, notModified: true };
    return { run: answer.body, etag, notModified: false };
  }

  async cancelRun(id: number, options: PostOptions = {}): Promise<Run> {
    return (await this.call<Run>("POST", `/api/v1/runs/${id}/cancel/`, options, {})).body;
  }

  listAudit(filters: AuditFilters = {}, options: CallOptions = {}): Promise<Page<AuditEvent>> {
    return this.get(`/api/v1/audit/${query(filters)}`, options);
  }

  /**
   * Polls a run until it ends (succeeded, failed, errored or cancelled) and returns it. Pauses
   * grow from `initialDelayMs` by `factor` up to `maxDelayMs`; a 429 waits for its Retry-After.
   * Aborting `signal` rejects with the signal's reason; `timeoutMs` rejects with WaitTimeoutError.
   */
  async waitForRun(id: number, options: WaitOptions = {}): Promise<Run> {
    const { signal, timeoutMs, onProgress } = options;
    const factor = options.factor ?? 1.5;
    const maxDelay = options.maxDelayMs ?? 10_000;
    let delay = options.initialDelayMs ?? 1_000;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    let last: { run: Run; etag: string } | undefined;
    for (;;) {
      signal?.throwIfAborted();
      let pause = delay;
      try {
        const poll = await this.pollRun(id, last, { signal });
        if (!poll.notModified && poll.run) {
          last = { run: poll.run, etag: poll.etag ?? "" };
          onProgress?.(poll.run);
        }
        if (last && TERMINAL_STATUSES.has(last.run.status)) return last.run;
        delay = Math.min(delay * factor, maxDelay);
      } catch (error) {
        if (!(error instanceof UnderstudyError && error.code === "throttled")) throw error;
        pause = Math.max((error.retryAfter ?? 1) * 1000, delay);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new WaitTimeoutError(id, timeoutMs ?? 0, last?.run);
      await sleep(Math.min(pause, remaining), signal);
    }
  }

  /**
   * Follows a run live until it ends and returns it, calling `onEvent` with each change. Uses
   * the portal's server-sent events (GET /api/v1/runs/{id}/events/), reconnecting with
   * Last-Event-ID when a stream drops; falls back to polling (waitForRun) when the portal
   * refuses a stream (503 event_streams_busy, 429) or `maxStreamFailures` streams in a row fail.
   * Works with the fetch of Node 18+ and of browsers (a streamed response body).
   */
  async watchRun(id: number, options: WatchOptions = {}): Promise<Run> {
    const { signal, onEvent } = options;
    const maxFailures = options.maxStreamFailures ?? 3;
    let delay = options.reconnectDelayMs ?? 3_000;
    let lastEventId: string | undefined;
    let lastRun: Run | undefined;
    let failures = 0;
    const fallBack = (): Promise<Run> =>
      this.waitForRun(id, { ...options.polling, signal, onProgress: onEvent });
    while (failures < maxFailures) {
      signal?.throwIfAborted();
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      let response: Response;
      try {
        response = await this.fetchImpl(`${this.baseUrl}/api/v1/runs/${id}/events/`, {
          method: "GET",
          headers: this.headers(headers),
          signal,
          credentials: this.token ? "omit" : "same-origin",
        });
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        failures += 1;
        await sleep(delay, signal);
        continue;
      }
      if (response.status === 503 || response.status === 429) {
        await response.body?.cancel();
        return fallBack();
      }
      if (!response.ok || !response.body) {
        const text = await response.text();
        const error = toError(response, parseJson(text));
        // A refusal that a reconnect would meet again (401, 403, 404) is the caller's to see.
        if (response.status < 500) throw error;
        failures += 1;
        await sleep(delay, signal);
        continue;
      }
      let received = false;
      try {
        for await (const event of readEvents(response.body, signal)) {
          if (event.retry !== undefined) delay = event.retry;
          if (event.event === "run") {
            lastRun = JSON.parse(event.data) as Run;
            lastEventId = event.id ?? lastEventId;
            received = true;
            onEvent?.(lastRun);
          } else if (event.event === "end") {
            return lastRun ?? (await this.getRun(id, { signal }));
          }
        }
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        // A dropped connection: reconnect below, like a stream the server closed.
      }
      signal?.throwIfAborted();
      if (lastRun && TERMINAL_STATUSES.has(lastRun.status)) return lastRun;
      failures = received ? 0 : failures + 1;
      await sleep(delay, signal);
    }
    return fallBack();
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { ...extra };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (this.source) headers["X-Understudy-Source"] = this.source;
    return headers;
  }

  private async get<T>(path: string, options: CallOptions): Promise<T> {
    return (await this.call<T>("GET", path, options)).body;
  }

  private async call<T>(
    method: string,
    path: string,
    options: PostOptions & { headers?: Record<string, string> },
    body?: unknown,
  ): Promise<Answer<T>> {
    const headers = this.headers({ Accept: "application/json", ...options.headers });
    if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const url = path.startsWith("http") ? path : `${this.baseUrl}${path}`;
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: options.signal,
        // Sends the session cookie when there is no token and the portal is the same site.
        credentials: this.token ? "omit" : "same-origin",
      });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new UnderstudyError("network_error", `Could not reach ${this.baseUrl}.`, {
        cause: error,
      });
    }
    if (response.status === 304) {
      return { status: 304, body: undefined as T, headers: response.headers };
    }
    const parsed = parseJson(await response.text());
    if (!response.ok) throw toError(response, parsed);
    if (parsed === undefined) {
      throw new UnderstudyError("unexpected_response", `${method} ${path} did not answer JSON.`, {
        status: response.status,
      });
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }
}

function toError(response: Response, body: unknown): UnderstudyError {
  const retryAfter = Number(response.headers.get("Retry-After")) || undefined;
  const error = (body as Partial<ErrorBody> | undefined)?.error;
  if (error && typeof error.code === "string") {
    return new UnderstudyError(error.code, error.message, {
      status: response.status,
      details: error.details,
      retryAfter,
    });
  }
  return new UnderstudyError(
    "unexpected_response",
    `The portal answered ${response.status} without an error body.`,
    { status: response.status, retryAfter },
  );
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The events of a text/event-stream body (https://html.spec.whatwg.org/#event-stream-interpretation). */
async function* readEvents(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  // fetch ends its body on abort by itself; a body from anywhere else is ended here.
  const onAbort = (): void => void reader.cancel(signal?.reason).catch(() => undefined);
  signal?.addEventListener("abort", onAbort, { once: true });
  const decoder = new TextDecoder();
  let buffer = "";
  let event: ServerSentEvent = { id: undefined, event: "message", data: "", retry: undefined };
  let data: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        const width = buffer.startsWith("\r\n", newline) ? 2 : 1;
        buffer = buffer.slice(newline + width);
        if (line === "") {
          if (data.length || event.retry !== undefined) {
            yield { ...event, data: data.join("\n") };
          }
          event = { id: event.id, event: "message", data: "", retry: undefined };
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue; // a comment: the server's keep-alive
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") data.push(value);
        else if (field === "event") event.event = value;
        else if (field === "id") event.id = value;
        else if (field === "retry" && /^[0-9]+$/.test(value)) event.retry = Number(value);
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
}

function query(parameters: object): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null) search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
