// Compiled with `tsc --noEmit` by the tests: the declarations describe a usable, strictly typed API.
// (That `ai` accepts the Vercel format is checked at run time in client.test.js, with `generateText`.)
import {
  Concierge, ConflictError, NotFoundError, type AnthropicTool, type OpenAIChatTool, type Session, type VercelTool,
} from "../src/index.js";

export async function usage(): Promise<void> {
  const concierge = new Concierge({ baseUrl: "http://127.0.0.1:8000", apiKey: "ck_..." });
  const session: Session = await concierge.create("user_123");
  const other = await concierge.create("user_123", { toolkits: ["github"], preload: { tools: ["DEMO_ECHO"] } });
  const openai: OpenAIChatTool[] = await session.tools({ provider: "openai" });
  const anthropic: AnthropicTool[] = await other.tools({ provider: "anthropic" });
  const vercel: Record<string, VercelTool> = await session.tools({ provider: "vercel" });
  const url: string = session.mcp.url;
  await session.update({ toolkits: ["gmail"] }, { expectedConfigVersion: session.configVersion });
  const request = await session.authorize("github", { alias: "work" });
  const account = await request.waitForConnection({ timeoutMs: 1000 });
  const status: string = account.status;
  try {
    await concierge.use("sess_missing");
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof ConflictError) {
      const code: string = error.code;
      void code;
    }
  }
  void [openai, anthropic, vercel, url, status];
}
