// The client against a live Concierge server: CONCIERGE_BASE_URL / CONCIERGE_API_KEY name it, and it
// serves the test fixtures' `demo` toolkit (tests/test_typescript_client.py starts it and runs this).
import assert from "node:assert/strict";
import http from "node:http";
import { test } from "node:test";

import { generateText, isStepCount } from "ai";
import { MockLanguageModelV3 } from "ai/test";

import {
  AccountNotActiveError, APIConnectionError, AuthenticationError, Concierge, ConfigurationError, ConflictError,
  InvalidRequestError, NotFoundError, ServerError, WaitTimeoutError,
} from "../src/index.js";

const BASE_URL = process.env.CONCIERGE_BASE_URL;
const API_KEY = process.env.CONCIERGE_API_KEY;
const ECHO_CALL = { tools: [{ tool_slug: "DEMO_ECHO", arguments: { text: "hello" } }] };
const FAIL_CALL = { tools: [{ tool_slug: "DEMO_FAIL", arguments: {} }] };
const META_TOOLS = ["COMPOSIO_SEARCH_TOOLS", "COMPOSIO_GET_TOOL_SCHEMAS", "COMPOSIO_MULTI_EXECUTE_TOOL"];

const concierge = new Concierge({ baseUrl: BASE_URL, apiKey: API_KEY });
let userCount = 0;
const user = () => `user_ts_${process.pid}_${++userCount}`;
const echoed = (text) => JSON.parse(text).data.results[0].response.data.text;

test("create, use, update: the reference's snippet", async () => {
  const session = await concierge.create(user());
  assert.match(session.id, /^sess_/);
  assert.equal(session.mcp.url, `${BASE_URL}/mcp/${session.id}`);
  assert.equal(session.configVersion, 1);
  const names = (await session.tools()).map((t) => t.name);
  for (const meta of META_TOOLS) assert.ok(names.includes(meta), meta);

  const same = await concierge.use(session.id);
  assert.deepEqual([same.id, same.userId], [session.id, session.userId]);
  await same.update({ toolkits: ["demo"], preload: { tools: ["DEMO_ECHO"] } });
  assert.equal(same.configVersion, 2);
  assert.deepEqual(same.config.toolkits, { enable: ["demo"] });
  assert.ok((await same.tools()).some((t) => t.name === "DEMO_ECHO"));
  await assert.rejects(session.update({ toolkits: ["datetime"] }, { expectedConfigVersion: 1 }),
    (error) => error instanceof ConflictError && error.status === 409 && error.code === "conflict");
  await session.refresh();
  assert.equal(session.configVersion, 2);

  const found = await same.search("repeat a piece of text back");
  assert.equal(found.results[0].primary_tool_slugs[0], "DEMO_ECHO");
  const result = await same.execute("DEMO_ECHO", { text: "hi" });
  assert.equal(result.successful, true);
  assert.equal(result.data.data?.text ?? result.data.text, "hi");
  const failed = await same.execute("DEMO_FAIL", {});
  assert.equal(failed.successful, false);
  assert.equal(failed.error, "this tool always fails");

  assert.ok((await concierge.sessions.list(session.userId)).some((s) => s.id === session.id));
  await session.delete();
  await assert.rejects(concierge.use(session.id), NotFoundError);
});

test("tools in OpenAI, Responses and Anthropic formats, and their tool calls", async () => {
  const session = await concierge.create(user(), { toolkits: ["demo"] });
  const plain = await session.tools();
  const openai = await session.tools({ provider: "openai" });
  assert.deepEqual(openai, plain.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.input_schema } })));
  const responses = await session.tools({ provider: "openai_responses" });
  assert.deepEqual(responses.map((t) => [t.type, t.name, t.strict]), plain.map((t) => ["function", t.name, false]));
  const anthropic = await session.tools({ provider: "anthropic" });
  assert.deepEqual(anthropic, plain.map((t) => ({ name: t.name, description: t.description, input_schema: t.input_schema })));

  const completion = { id: "chatcmpl-1", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: null, tool_calls: [
    { id: "call_a", type: "function", function: { name: "COMPOSIO_MULTI_EXECUTE_TOOL", arguments: JSON.stringify(ECHO_CALL) } },
    { id: "call_b", type: "function", function: { name: "COMPOSIO_MULTI_EXECUTE_TOOL", arguments: "{oops" } },
  ] } }] };
  const chat = await session.handleToolCalls(completion);
  assert.deepEqual(chat.map((m) => [m.role, m.tool_call_id]), [["tool", "call_a"], ["tool", "call_b"]]);
  assert.equal(echoed(chat[0].content), "hello");
  assert.match(JSON.parse(chat[1].content).error, /not valid JSON/);

  const output = await session.handleToolCalls({ output: [
    { type: "function_call", call_id: "call_1", name: "COMPOSIO_MULTI_EXECUTE_TOOL", arguments: JSON.stringify(ECHO_CALL) }] });
  assert.deepEqual(output.map((m) => [m.type, m.call_id]), [["function_call_output", "call_1"]]);

  const [reply] = await session.handleToolCalls({ role: "assistant", content: [
    { type: "text", text: "Running both." },
    { type: "tool_use", id: "toolu_1", name: "COMPOSIO_MULTI_EXECUTE_TOOL", input: ECHO_CALL },
    { type: "tool_use", id: "toolu_2", name: "COMPOSIO_MULTI_EXECUTE_TOOL", input: FAIL_CALL },
  ] });
  assert.equal(reply.role, "user");
  assert.deepEqual(reply.content.map((b) => [b.type, b.tool_use_id, b.is_error]),
    [["tool_result", "toolu_1", false], ["tool_result", "toolu_2", true]]);
  assert.equal(echoed(reply.content[0].content), "hello");
});

test("Vercel AI SDK: generateText runs the session's tools", async () => {
  const vercelClient = new Concierge({ baseUrl: BASE_URL, apiKey: API_KEY, provider: "vercel" });
  const session = await vercelClient.create(user(), { toolkits: ["demo"] });
  const tools = await session.tools();
  assert.deepEqual(Object.keys(tools).sort(), (await session.tools({ provider: "anthropic" })).map((t) => t.name).sort());
  const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: 1, text: 1, reasoning: 0 } };
  const model = new MockLanguageModelV3({ doGenerate: [
    { content: [{ type: "tool-call", toolCallId: "call_1", toolName: "COMPOSIO_MULTI_EXECUTE_TOOL", input: JSON.stringify(ECHO_CALL) }],
      finishReason: { unified: "tool-calls", raw: "tool_calls" }, usage, warnings: [] },
    { content: [{ type: "text", text: "It said hello." }], finishReason: { unified: "stop", raw: "stop" }, usage, warnings: [] },
  ] });
  const result = await generateText({ model, tools, prompt: "echo hello", stopWhen: isStepCount(3) });
  assert.equal(result.text, "It said hello.");
  const [toolResult] = result.steps[0].toolResults;
  assert.equal(toolResult.toolName, "COMPOSIO_MULTI_EXECUTE_TOOL");
  assert.equal(echoed(toolResult.output), "hello");
  // what `ai` sent the model: the tools with their JSON Schemas, unchanged
  const sent = model.doGenerateCalls[0].tools;
  const listings = Object.fromEntries((await session.tools({ provider: "anthropic" })).map((t) => [t.name, t]));
  assert.equal(sent.length, Object.keys(listings).length);
  for (const tool of sent) assert.deepEqual(tool.inputSchema, listings[tool.name].input_schema);
});

test("authorize, then waitForConnection once the user finished the Connect Link", async () => {
  const config = await concierge.authConfigs.create("github", { auth_scheme: "bearer_token", name: "PAT" });
  assert.equal(config.auth_scheme, "BEARER_TOKEN");
  const owner = user();
  const session = await concierge.create(owner, { toolkits: ["github"], auth_configs: { github: config.id } });
  const request = await session.authorize("github");
  assert.match(request.id, /^ca_/);
  assert.equal(request.status, "INITIATED");
  assert.ok(request.redirectUrl.startsWith(`${BASE_URL}/connect/`));

  const userActs = (async () => {
    const page = await fetch(request.redirectUrl);
    const form = await page.text();
    const cookie = page.headers.get("set-cookie").split(";")[0]; // the page's CSRF cookie, as a browser keeps it
    const hidden = Object.fromEntries([...form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1], m[2]]));
    const done = await fetch(request.redirectUrl, {
      method: "POST", headers: { cookie }, body: new URLSearchParams({ ...hidden, token: "ghp_secret_123456" }),
    });
    assert.equal(done.status, 200);
  })();
  const account = await request.waitForConnection({ timeoutMs: 10_000, pollIntervalMs: 100 });
  await userActs;
  assert.deepEqual([account.id, account.status, account.user_id], [request.id, "ACTIVE", owner]);
  assert.ok(!JSON.stringify(account).includes("ghp_secret_123456"));
  assert.deepEqual((await session.toolkits({ isConnected: true })).map((t) => t.slug), ["github"]);

  const pending = await session.authorize("github", { alias: "work" });
  await assert.rejects(pending.waitForConnection({ timeoutMs: 300, pollIntervalMs: 100 }),
    (error) => error instanceof WaitTimeoutError && error.account.status === "INITIATED");
  await concierge.connectedAccounts.revoke(pending.id);
  await assert.rejects(pending.waitForConnection(), (error) => error instanceof AccountNotActiveError && pending.status === "REVOKED");
});

test("errors are typed by the server's code", async () => {
  await assert.rejects(new Concierge({ baseUrl: BASE_URL, apiKey: "ck_wrong" }).create(user()),
    (error) => error instanceof AuthenticationError && error.status === 401);
  await assert.rejects(concierge.use("sess_does_not_exist"),
    (error) => error instanceof NotFoundError && error.code === "not_found");
  await assert.rejects(concierge.create(user(), { toolkits: { enabled: ["demo"] } }),
    (error) => error instanceof InvalidRequestError && /enable/.test(error.message));
  const saved = process.env.CONCIERGE_API_KEY;
  delete process.env.CONCIERGE_API_KEY;
  try {
    assert.throws(() => new Concierge({ baseUrl: BASE_URL }), ConfigurationError);
  } finally {
    process.env.CONCIERGE_API_KEY = saved;
  }
  assert.throws(() => new Concierge({ apiKey: API_KEY, provider: "langchain" }), ConfigurationError);
});

test("retries connection errors and 5xx where safe, never 4xx", async () => {
  const hits = [];
  let answers = [];
  const server = http.createServer((req, res) => {
    hits.push(req.method);
    const status = answers.shift() ?? 200;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(status === 200 ? JSON.stringify({ items: [] }) : JSON.stringify({ error: { code: status === 404 ? "not_found" : "internal", message: "no" } }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseUrl = `http://127.0.0.1:${server.address().port}`;
  const client = new Concierge({ baseUrl, apiKey: "ck_x", maxRetries: 2 });
  try {
    answers = [500, 503];
    assert.deepEqual(await client.connectedAccounts.list(), []);
    assert.deepEqual(hits, ["GET", "GET", "GET"]);
    hits.length = 0;
    answers = [500];  // a POST's 500 may follow a tool that already ran: not repeated
    await assert.rejects(client.create("u"), (error) => error instanceof ServerError && error.status === 500);
    assert.deepEqual(hits, ["POST"]);
    hits.length = 0;
    answers = [404];
    await assert.rejects(client.use("s"), NotFoundError);
    assert.deepEqual(hits, ["GET"]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  const started = Date.now();
  await assert.rejects(new Concierge({ baseUrl, apiKey: "ck_x", maxRetries: 2 }).use("s"), APIConnectionError);
  assert.ok(Date.now() - started >= 250, "waited between attempts");
});
