// Concierge client for JavaScript and TypeScript: sessions from code, their tools for model providers,
// Connect Links. Plain ES module on `fetch`, no runtime dependencies; types in index.d.ts.
// Mirrors the Python client (server/client): same options, errors, retries and tool formats.

const DEFAULT_BASE_URL = "http://127.0.0.1:8000";
const API_PREFIX = "/api/v1";
const DEFAULT_MAX_RETRIES = 4;
const DEFAULT_TIMEOUT_MS = 300_000;
const SEARCH_TOOL = "COMPOSIO_SEARCH_TOOLS";
const MULTI_EXECUTE_TOOL = "COMPOSIO_MULTI_EXECUTE_TOOL";
const FINAL_ACCOUNT_STATES = new Set(["FAILED", "EXPIRED", "REVOKED"]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
export const PROVIDERS = Object.freeze(["openai", "openai_responses", "anthropic", "vercel"]);
// The `ai` package recognises a JSON Schema wrapped by its `jsonSchema()` by this global symbol.
const VERCEL_SCHEMA = Symbol.for("vercel.ai.schema");

// ---------------------------------------------------------------- errors

/** Base of everything the client throws. */
export class ConciergeError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }
}
/** The client cannot be built as asked (no API key, unknown provider). */
export class ConfigurationError extends ConciergeError {}
/** The server could not be reached, even after the retries. */
export class APIConnectionError extends ConciergeError {}
/** The server did not answer within `timeoutMs`. */
export class APITimeoutError extends APIConnectionError {}

/** The server refused or failed a request; `code`, `details` are the server's own, `status` the HTTP status
 * (undefined when the error came inside a meta tool's envelope). */
export class APIError extends ConciergeError {
  constructor(message, { code, status, details } = {}) {
    super(`${code}: ${message}`);
    this.code = code;
    this.status = status;
    this.details = details ?? {};
    this.serverMessage = message;
  }
}
export class InvalidRequestError extends APIError {}
export class AuthenticationError extends APIError {}
export class PermissionDeniedError extends APIError {}
export class NotFoundError extends APIError {}
export class ConflictError extends APIError {}
export class ConnectionRequiredError extends ConflictError {}
export class ToolExecutionError extends APIError {}
export class ServerError extends APIError {}

/** `waitForConnection` saw the account end in a final state other than ACTIVE. */
export class AccountNotActiveError extends ConciergeError {
  constructor(account) {
    const reason = account.status_reason ? ` (${account.status_reason})` : "";
    super(`connected account ${account.id} ended as ${account.status}${reason}`);
    this.account = account;
  }
}
/** `waitForConnection` gave up while the account was still pending; the link may still be used. */
export class WaitTimeoutError extends ConciergeError {
  constructor(account, timeoutMs) {
    super(`connected account ${account.id} still ${account.status} after ${timeoutMs} ms`);
    this.account = account;
  }
}

const BY_CODE = {
  invalid_input: InvalidRequestError, payload_too_large: InvalidRequestError, unauthorized: AuthenticationError,
  forbidden: PermissionDeniedError, tool_not_allowed: PermissionDeniedError, not_found: NotFoundError,
  conflict: ConflictError, connection_required: ConnectionRequiredError, tool_error: ToolExecutionError,
};
const BY_STATUS = {
  400: InvalidRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
  409: ConflictError, 413: InvalidRequestError, 422: ToolExecutionError,
};

/** The error for a server error code, by its code first and its HTTP status second. */
export function errorFor(code, message, details, status) {
  let cls = BY_CODE[code] ?? BY_STATUS[status ?? 0];
  if (!cls) cls = status === undefined || status >= 500 ? ServerError : APIError;
  return new cls(message, { code, status, details });
}

function envelopeError(envelope) {
  const data = envelope.data && typeof envelope.data === "object" ? envelope.data : {};
  const { error_code: code = "tool_error", ...details } = data;
  return errorFor(String(code), envelope.error ?? "tool call failed", details);
}

// ---------------------------------------------------------------- tool formats

/** A tool result as the model sees it: the envelope as compact JSON. */
export function resultText(result) {
  const body = { data: result.data, error: result.error ?? null, successful: result.successful };
  if (result.log_id != null) body.log_id = result.log_id;
  if (result.error_details != null) body.error_details = result.error_details;
  return JSON.stringify(body);
}

function parseArguments(name, raw) {
  if (raw && typeof raw === "object") return { arguments: raw };
  let value;
  try {
    value = JSON.parse(raw || "{}");
  } catch (error) {
    return { problem: `the arguments of ${name} are not valid JSON: ${error.message}` };
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    return { problem: `the arguments of ${name} must be a JSON object` };
  }
  return { arguments: value };
}

function itemCall(item) {
  if (!item || typeof item !== "object") return null;
  if (item.type === "function_call") return { provider: "openai_responses", id: item.call_id, name: item.name, raw: item.arguments };
  if (item.type === "tool_use") return { provider: "anthropic", id: item.id, name: item.name, raw: item.input };
  if (item.function && typeof item.function === "object") {
    return { provider: "openai", id: item.id, name: item.function.name, raw: item.function.arguments };
  }
  return null;
}

function responseItems(response) {
  if (Array.isArray(response)) return response;
  if (!response || typeof response !== "object") {
    throw new TypeError("cannot read tool calls from this value; pass a model response, message or list of tool calls");
  }
  if ("choices" in response) return response.choices?.[0]?.message?.tool_calls ?? [];
  if ("tool_calls" in response) return response.tool_calls ?? [];
  if (Array.isArray(response.output)) return response.output;
  if (Array.isArray(response.content)) return response.content;
  return [response];
}

/** The tool calls in an OpenAI chat completion, Responses result or Anthropic message (or their parts). */
export function toolCalls(response) {
  return responseItems(response).map(itemCall).filter((call) => call !== null);
}

function resultMessages(calls, results) {
  if (calls.length === 0) return [];
  const provider = calls[0].provider;
  if (provider === "openai") {
    return calls.map((c, i) => ({ role: "tool", tool_call_id: c.id, content: resultText(results[i]) }));
  }
  if (provider === "openai_responses") {
    return calls.map((c, i) => ({ type: "function_call_output", call_id: c.id, output: resultText(results[i]) }));
  }
  return [{ role: "user", content: calls.map((c, i) => ({
    type: "tool_result", tool_use_id: c.id, content: resultText(results[i]), is_error: !results[i].successful,
  })) }];
}

// ---------------------------------------------------------------- transport

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function env(name) {
  return globalThis.process?.env?.[name] || undefined;
}

function segment(value) {
  return encodeURIComponent(value);
}

/** Client for a Concierge server's REST API. */
export class Concierge {
  constructor({ baseUrl, apiKey, provider, maxRetries = DEFAULT_MAX_RETRIES, timeoutMs = DEFAULT_TIMEOUT_MS,
    fetch: fetchImpl } = {}) {
    const key = apiKey ?? env("CONCIERGE_API_KEY");
    if (!key) {
      throw new ConfigurationError("no API key: pass apiKey or set CONCIERGE_API_KEY to the admin key `concierge serve` printed");
    }
    if (provider !== undefined && !PROVIDERS.includes(provider)) {
      throw new ConfigurationError(`unknown provider ${JSON.stringify(provider)}; use one of ${PROVIDERS.join(", ")}`);
    }
    this.baseUrl = (baseUrl ?? env("CONCIERGE_BASE_URL") ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.provider = provider;
    this.maxRetries = maxRetries;
    this.timeoutMs = timeoutMs;
    this._fetch = fetchImpl ?? globalThis.fetch.bind(globalThis);
    this._headers = { authorization: `Bearer ${key}`, "user-agent": "concierge-typescript" };
    this.sessions = {
      list: async (userId, { limit = 100, offset = 0 } = {}) => {
        const data = await this._request("GET", "/sessions", { query: { user_id: userId, limit, offset } });
        return data.items.map((s) => new Session(this, s));
      },
      get: (sessionId) => this.use(sessionId),
      delete: async (sessionId) => { await this._request("DELETE", `/sessions/${segment(sessionId)}`); },
    };
    this.connectedAccounts = {
      list: async ({ userId, toolkit } = {}) =>
        (await this._request("GET", "/connected_accounts", { query: { user_id: userId, toolkit } })).items,
      get: (id) => this._request("GET", `/connected_accounts/${segment(id)}`),
      delete: async (id) => { await this._request("DELETE", `/connected_accounts/${segment(id)}`); },
      revoke: (id) => this._request("POST", `/connected_accounts/${segment(id)}/revoke`),
    };
    this.authConfigs = {
      list: async ({ toolkit } = {}) => (await this._request("GET", "/auth_configs", { query: { toolkit } })).items,
      get: (id) => this._request("GET", `/auth_configs/${segment(id)}`),
      create: (toolkit, fields = {}) => this._request("POST", "/auth_configs", { body: { toolkit, ...fields } }),
      update: (id, fields) => this._request("PATCH", `/auth_configs/${segment(id)}`, { body: fields }),
      delete: async (id) => { await this._request("DELETE", `/auth_configs/${segment(id)}`); },
    };
  }

  /** A new session (a fresh task context) for `userId`; options as in the REST API (snake_case keys). */
  async create(userId, options = {}) {
    return new Session(this, await this._request("POST", "/sessions", { body: { user_id: userId, ...options } }));
  }

  /** An existing session, e.g. one whose id was stored for a multi-turn conversation. */
  async use(sessionId) {
    return new Session(this, await this._request("GET", `/sessions/${segment(sessionId)}`));
  }

  /** Seconds to wait before retrying, or null to stop: the Python client's policy (see docs/python-client.md). */
  _retryDelay(method, attempt, outcome) {
    if (attempt >= this.maxRetries) return null;
    const idempotent = IDEMPOTENT.has(method);
    let retryable;
    if (outcome instanceof Response) {
      retryable = outcome.status === 503 || (idempotent && outcome.status >= 500);
    } else {
      retryable = outcome.name === "TimeoutError" ? idempotent : true;
    }
    if (!retryable) return null;
    const retryAfter = outcome instanceof Response ? outcome.headers.get("retry-after") ?? "" : "";
    if (/^\d+$/.test(retryAfter)) return Math.min(Number(retryAfter), 8) * 1000;
    return Math.min(250 * 2 ** attempt, 8000) * (0.75 + Math.random() / 2);
  }

  async _request(method, path, { query, body } = {}) {
    const url = new URL(`${this.baseUrl}${API_PREFIX}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    const headers = { ...this._headers };
    if (body !== undefined) headers["content-type"] = "application/json";
    for (let attempt = 0; ; attempt++) {
      let outcome;
      try {
        outcome = await this._fetch(url, {
          method, headers, body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        outcome = error;
      }
      const delay = this._retryDelay(method, attempt, outcome);
      if (delay === null) return this._result(outcome);
      if (outcome instanceof Response) await outcome.body?.cancel();
      await sleep(delay);
    }
  }

  async _result(outcome) {
    if (!(outcome instanceof Response)) {
      if (outcome?.name === "TimeoutError") {
        throw new APITimeoutError(`${this.baseUrl} did not answer in time`, { cause: outcome });
      }
      throw new APIConnectionError(`cannot reach Concierge at ${this.baseUrl}: ${outcome?.cause?.code ?? outcome}; is \`concierge serve\` running?`, { cause: outcome });
    }
    const text = await outcome.text();
    if (outcome.ok) return text ? JSON.parse(text) : undefined;
    let error;
    try {
      error = JSON.parse(text).error;
    } catch {
      error = undefined;
    }
    if (error && typeof error.code === "string") throw errorFor(error.code, error.message, error.details, outcome.status);
    throw errorFor(`http_${outcome.status}`, text.trim().slice(0, 300) || outcome.statusText, undefined, outcome.status);
  }
}

// ---------------------------------------------------------------- sessions

/** One session: its MCP URL, its tools in a provider's format, and calls made through it. */
export class Session {
  constructor(client, data) {
    this._client = client;
    this.data = data;
  }

  get id() { return this.data.id; }
  get userId() { return this.data.user_id; }
  /** `mcp.url` (and `mcp.headers`) for any MCP client: the same session as `tools()`. */
  get mcp() { return this.data.mcp; }
  get config() { return this.data.config; }
  get configVersion() { return this.data.config_version; }
  get warnings() { return this.data.warnings ?? []; }
  get _path() { return `/sessions/${segment(this.id)}`; }

  /** Change only the given options; with `expectedConfigVersion`, a concurrent change throws ConflictError. */
  async update(options, { expectedConfigVersion } = {}) {
    const body = { ...options };
    if (expectedConfigVersion !== undefined) body.expected_config_version = expectedConfigVersion;
    this.data = await this._client._request("PATCH", this._path, { body });
    return this;
  }

  async refresh() {
    this.data = await this._client._request("GET", this._path);
    return this;
  }

  async delete() {
    await this._client._request("DELETE", this._path);
  }

  /** The session's tools for `provider` (else the client's `provider`, else plain JSON Schema listings). */
  async tools({ provider } = {}) {
    const chosen = provider ?? this._client.provider;
    if (chosen !== undefined && !PROVIDERS.includes(chosen)) {
      throw new ConfigurationError(`unknown provider ${JSON.stringify(chosen)}; use one of ${PROVIDERS.join(", ")}`);
    }
    const { items } = await this._client._request("GET", `${this._path}/tools`);
    switch (chosen) {
      case undefined:
        return items;
      case "openai":
        return items.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.input_schema } }));
      case "openai_responses":
        return items.map((t) => ({ type: "function", name: t.name, description: t.description, parameters: t.input_schema, strict: false }));
      case "anthropic":
        return items.map((t) => ({ name: t.name, description: t.description, input_schema: t.input_schema }));
      default:
        return Object.fromEntries(items.map((t) => [t.name, this._vercelTool(t)]));
    }
  }

  _vercelTool(listing) {
    // The shape of the `ai` package's `tool({description, inputSchema: jsonSchema(schema), execute})`;
    // `parameters` is the same schema for AI SDK 4.
    const schema = { [VERCEL_SCHEMA]: true, jsonSchema: listing.input_schema, validate: undefined };
    return {
      description: listing.description,
      inputSchema: schema,
      parameters: schema,
      execute: async (args) => resultText(await this.execute(listing.name, args ?? {})),
    };
  }

  /** Call one of the session's own tools (a meta tool) and get its `{data, error, successful}`. */
  call(name, args = {}) {
    return this._client._request("POST", `${this._path}/tools/${segment(name)}`, { body: { arguments: args } });
  }

  /** COMPOSIO_SEARCH_TOOLS for one use case (or several): ranked tools, schemas, connection status. */
  async search(query) {
    const useCases = Array.isArray(query) ? query : [query];
    const envelope = await this.call(SEARCH_TOOL, { queries: useCases.map((q) => ({ use_case: q })) });
    if (!envelope.successful) throw envelopeError(envelope);
    return envelope.data;
  }

  /** Run a meta tool by name or a catalog tool by slug; a failing tool is a result with `successful: false`. */
  async execute(name, args = {}, { account } = {}) {
    if (this.data.tools.includes(name) && account === undefined) return this.call(name, args);
    const call = { tool_slug: name, arguments: args };
    if (account !== undefined) call.account = account;
    const envelope = await this.call(MULTI_EXECUTE_TOOL, { tools: [call] });
    const first = envelope.data?.results?.[0];
    if (!first) return envelope;
    if (first.response != null) return first.response;
    return { data: null, error: first.error ?? null, successful: false, error_details: first.error_details ?? null };
  }

  /** Run a model's tool calls through this session; the messages to append, in the provider's shape. */
  async handleToolCalls(response) {
    const calls = toolCalls(response);
    const results = [];
    for (const call of calls) {
      const parsed = parseArguments(call.name, call.raw);
      results.push(parsed.problem !== undefined
        ? { data: null, error: parsed.problem, successful: false }
        : await this.execute(call.name, parsed.arguments));
    }
    return resultMessages(calls, results);
  }

  /** Start connecting `toolkit` for this session's user; show `redirectUrl` to the user. */
  async authorize(toolkit, { callbackUrl, alias } = {}) {
    const body = { toolkit };
    if (callbackUrl !== undefined) body.callback_url = callbackUrl;
    if (alias !== undefined) body.alias = alias;
    return new ConnectionRequest(this._client, await this._client._request("POST", `${this._path}/authorize`, { body }));
  }

  /** The toolkits this session allows, with the user's connection state for each. */
  async toolkits({ search, isConnected } = {}) {
    const query = { search, is_connected: isConnected };
    return (await this._client._request("GET", `${this._path}/toolkits`, { query })).items;
  }
}

/** A Connect Link for one pending connected account. */
export class ConnectionRequest {
  constructor(client, data) {
    this._client = client;
    this.data = data;
  }

  /** The pending connected account's id (`ca_...`). */
  get id() { return this.data.connected_account_id; }
  get redirectUrl() { return this.data.redirect_url; }
  get status() { return this.data.status; }

  /** Resolves with the ACTIVE account; throws AccountNotActiveError or WaitTimeoutError. */
  async waitForConnection({ timeoutMs = 120_000, pollIntervalMs = 1000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const account = await this._client._request("GET", `/connected_accounts/${segment(this.id)}`);
      this.data = { ...this.data, status: account.status };
      if (account.status === "ACTIVE") return account;
      if (FINAL_ACCOUNT_STATES.has(account.status)) throw new AccountNotActiveError(account);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new WaitTimeoutError(account, timeoutMs);
      await sleep(Math.min(pollIntervalMs, remaining));
    }
  }
}
