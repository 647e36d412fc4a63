// The baseline of bench/intake: a bare Probot app with one no-op handler, behind Probot's own
// webhook middleware, in a process of its own as the built server is. Configured by environment:
// PORT, APP_ID, PRIVATE_KEY, WEBHOOK_SECRET.
import { createServer } from "node:http";
import { pino } from "pino";
import { createNodeMiddleware, Probot } from "probot";

const probot = new Probot({
  appId: Number(process.env.APP_ID),
  privateKey: process.env.PRIVATE_KEY ?? "",
  secret: process.env.WEBHOOK_SECRET ?? "",
  log: pino({ level: "silent" }),
});
const middleware = await createNodeMiddleware((app) => app.onAny(async () => undefined), { probot });
const server = createServer((req, res) => {
  if (req.url === "/healthz") return void res.writeHead(200).end("ok");
  void middleware(req, res, () => res.writeHead(404).end());
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
