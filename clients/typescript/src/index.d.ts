// Types for the Concierge JavaScript/TypeScript client (src/index.js). Field names of server answers
// are the REST API's own (snake_case), as in the Python client's models.

export type Provider = "openai" | "openai_responses" | "anthropic" | "vercel";
export declare const PROVIDERS: readonly Provider[];

export interface ConciergeOptions {
  /** Defaults to CONCIERGE_BASE_URL, else http://127.0.0.1:8000. */
  baseUrl?: string;
  /** Defaults to CONCIERGE_API_KEY (the admin key `concierge serve` printed). */
  apiKey?: string;
  /** The default tool format of `session.tools()`. */
  provider?: Provider;
  /** Retries on connection errors and safe-to-repeat 5xx (default 4). */
  maxRetries?: number;
  /** Per-request timeout (default 300000: tool calls can run for minutes). */
  timeoutMs?: number;
  /** A `fetch` to use instead of the global one (proxies, tests). */
  fetch?: typeof globalThis.fetch;
}

export type JsonSchema = Record<string, unknown>;

export interface McpInfo {
  type: string;
  url: string;
  headers: Record<string, string>;
}

export interface SessionData {
  id: string;
  session_id: string;
  user_id: string;
  config: Record<string, unknown>;
  config_version: number;
  created_at: number;
  updated_at: number;
  mcp: McpInfo;
  tools: string[];
  allowed_tool_count: number;
  warnings: string[];
  clients: Record<string, unknown>[];
}

/** Options of `create` and `update`, as in the REST API. */
export interface SessionOptions {
  toolkits?: string[] | { enable?: string[]; disable?: string[] } | null;
  tools?: Record<string, string[] | { enable?: string[]; disable?: string[]; tags?: string[] }> | null;
  tags?: string[] | Record<string, string[]> | null;
  auth_configs?: Record<string, string> | null;
  connected_accounts?: Record<string, string[]> | null;
  manage_connections?: boolean | Record<string, unknown> | null;
  multi_account?: Record<string, unknown> | null;
  workbench?: Record<string, unknown> | null;
  preload?: { tools: string[] | "all" } | null;
  session_preset?: "direct_tools" | null;
  [option: string]: unknown;
}

export interface ToolListing {
  name: string;
  title: string;
  description: string;
  input_schema: JsonSchema;
  annotations: Record<string, unknown>;
}

export interface OpenAIChatTool {
  type: "function";
  function: { name: string; description: string; parameters: JsonSchema };
}
export interface OpenAIResponsesTool {
  type: "function";
  name: string;
  description: string;
  parameters: JsonSchema;
  strict: false;
}
export interface AnthropicTool {
  name: string;
  description: string;
  input_schema: JsonSchema;
}
/** A JSON Schema wrapped as the `ai` package's `jsonSchema()` does. */
export interface VercelSchema {
  readonly jsonSchema: JsonSchema;
  readonly validate: undefined;
}
/** What the `ai` package's `tool({...})` returns: usable in `generateText({tools})` as is. */
export interface VercelTool {
  description: string;
  inputSchema: VercelSchema;
  /** The same schema, for AI SDK 4. */
  parameters: VercelSchema;
  execute(args: Record<string, unknown>): Promise<string>;
}

export interface ToolsByProvider {
  openai: OpenAIChatTool[];
  openai_responses: OpenAIResponsesTool[];
  anthropic: AnthropicTool[];
  vercel: Record<string, VercelTool>;
}

export interface Envelope<T = unknown> {
  data: T;
  error: string | null;
  successful: boolean;
}
export interface ToolResult<T = unknown> extends Envelope<T> {
  log_id?: string | null;
  error_details?: Record<string, unknown> | null;
}

export interface AccountData {
  id: string;
  user_id: string;
  toolkit: Record<string, unknown>;
  auth_config: Record<string, unknown>;
  auth_config_id: string | null;
  alias: string | null;
  status: string;
  status_reason: string | null;
  is_disabled: boolean;
  scopes: string[] | null;
  credential_preview: string | null;
  expires_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface AuthConfigData {
  id: string;
  toolkit: string;
  name: string;
  auth_scheme: string;
  type: string;
  status: string;
  is_managed: boolean;
  is_default: boolean;
  app_source: string | null;
  is_disabled: boolean;
  scopes: string[] | null;
  authorize_params: Record<string, string>;
  restrict_to_following_tools: string[] | null;
  has_app_credentials: boolean;
  created_at: number;
  updated_at: number;
}

export interface ConnectionRequestData {
  id: string;
  connected_account_id: string;
  redirect_url: string;
  expires_at: number;
  status: string;
}

export interface SessionToolkit {
  slug: string;
  name: string;
  is_no_auth: boolean;
  connection: Record<string, unknown> | null;
}

export declare class Concierge {
  constructor(options?: ConciergeOptions);
  readonly baseUrl: string;
  readonly provider: Provider | undefined;
  maxRetries: number;
  timeoutMs: number;
  /** A new session (a fresh task context) for `userId`. */
  create(userId: string, options?: SessionOptions): Promise<Session>;
  /** An existing session, e.g. one whose id was stored for a multi-turn conversation. */
  use(sessionId: string): Promise<Session>;
  readonly sessions: {
    list(userId: string, options?: { limit?: number; offset?: number }): Promise<Session[]>;
    get(sessionId: string): Promise<Session>;
    delete(sessionId: string): Promise<void>;
  };
  readonly connectedAccounts: {
    list(filter?: { userId?: string; toolkit?: string }): Promise<AccountData[]>;
    get(id: string): Promise<AccountData>;
    delete(id: string): Promise<void>;
    revoke(id: string): Promise<{ account: AccountData; warning?: string | null }>;
  };
  readonly authConfigs: {
    list(filter?: { toolkit?: string }): Promise<AuthConfigData[]>;
    get(id: string): Promise<AuthConfigData>;
    create(toolkit: string, fields?: Record<string, unknown>): Promise<AuthConfigData>;
    update(id: string, fields: Record<string, unknown>): Promise<AuthConfigData>;
    delete(id: string): Promise<void>;
  };
}

export declare class Session {
  data: SessionData;
  readonly id: string;
  readonly userId: string;
  /** `mcp.url` (and `mcp.headers`) for any MCP client: the same session as `tools()`. */
  readonly mcp: McpInfo;
  readonly config: Record<string, unknown>;
  readonly configVersion: number;
  readonly warnings: string[];
  update(options: SessionOptions, concurrency?: { expectedConfigVersion?: number }): Promise<this>;
  refresh(): Promise<this>;
  delete(): Promise<void>;
  /** The tools in `provider`'s format (else the client's `provider`, else plain listings). */
  tools<P extends Provider>(options: { provider: P }): Promise<ToolsByProvider[P]>;
  tools(options?: { provider?: Provider }): Promise<ToolListing[] | ToolsByProvider[Provider]>;
  call<T = unknown>(name: string, args?: Record<string, unknown>): Promise<Envelope<T>>;
  search(query: string | string[]): Promise<Record<string, any>>;
  execute<T = unknown>(name: string, args?: Record<string, unknown>, options?: { account?: string }): Promise<ToolResult<T>>;
  /** Runs a model's tool calls; returns the messages to append, in the provider's shape. */
  handleToolCalls(response: unknown): Promise<Record<string, unknown>[]>;
  authorize(toolkit: string, options?: { callbackUrl?: string; alias?: string }): Promise<ConnectionRequest>;
  toolkits(filter?: { search?: string; isConnected?: boolean }): Promise<SessionToolkit[]>;
}

export declare class ConnectionRequest {
  data: ConnectionRequestData;
  /** The pending connected account's id (`ca_...`). */
  readonly id: string;
  readonly redirectUrl: string;
  readonly status: string;
  waitForConnection(options?: { timeoutMs?: number; pollIntervalMs?: number }): Promise<AccountData>;
}

export declare class ConciergeError extends Error {}
export declare class ConfigurationError extends ConciergeError {}
export declare class APIConnectionError extends ConciergeError {}
export declare class APITimeoutError extends APIConnectionError {}
export declare class APIError extends ConciergeError {
  constructor(message: string, fields: { code: string; status?: number; details?: Record<string, unknown> });
  readonly code: string;
  /** The HTTP status; undefined when the error came inside a meta tool's envelope. */
  readonly status: number | undefined;
  readonly details: Record<string, unknown>;
  readonly serverMessage: string;
}
export declare class InvalidRequestError extends APIError {}
export declare class AuthenticationError extends APIError {}
export declare class PermissionDeniedError extends APIError {}
export declare class NotFoundError extends APIError {}
export declare class ConflictError extends APIError {}
export declare class ConnectionRequiredError extends ConflictError {}
export declare class ToolExecutionError extends APIError {}
export declare class ServerError extends APIError {}
export declare class AccountNotActiveError extends ConciergeError {
  readonly account: AccountData;
}
export declare class WaitTimeoutError extends ConciergeError {
  readonly account: AccountData;
}

export declare function errorFor(code: string, message: string, details?: Record<string, unknown>, status?: number): APIError;
export declare function resultText(result: ToolResult): string;
export declare function toolCalls(response: unknown): { provider: Provider; id: string; name: string; raw: unknown }[];
