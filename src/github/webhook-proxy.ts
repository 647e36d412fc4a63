// Webhook deliveries through a proxy channel (WEBHOOK_PROXY_URL, e.g. smee.io), for a server that
// GitHub cannot reach during development. Probot's own client ends the process when the channel
// cannot be reached at start; this one says so and tries again, waiting longer each time, while the
// server goes on serving. Once connected, the channel's event source reconnects by itself.
import type { Logger } from "pino";
import { SmeeClient } from "smee-client";

export interface WebhookProxyOptions {
  /** The channel's address. */
  url: string;
  /** Where deliveries are posted: this server's webhook URL. */
  target: string;
  log: Logger;
  /** The first wait before trying again; it doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

export interface WebhookProxy {
  stop(): Promise<void>;
}

export function connectWebhookProxy({ url, target, log, retryMs = 1_000, maxRetryMs = 60_000 }: WebhookProxyOptions): WebhookProxy {
  // The client reports lost connections as errors although its event source reconnects: warnings.
  const logger = { info: (message: string) => log.info(message), error: (...parts: unknown[]) => log.warn(parts.map(String).join(" ")) };
  let client: SmeeClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let wait = retryMs;

  const connect = async (): Promise<void> => {
    client = new SmeeClient({ source: url, target, logger });
    try {
      await client.start();
      wait = retryMs;
    } catch (error) {
      await client.stop().catch(() => undefined);
      if (stopped) return;
      const reason = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error);
      log.warn(`the webhook proxy channel ${url} cannot be reached (${reason}): webhooks wait on it; trying again in ${Math.round(wait / 1000)} s`);
      timer = setTimeout(() => void connect(), wait);
      timer.unref();
      wait = Math.min(wait * 2, maxRetryMs);
    }
  };
  void connect();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await client?.stop().catch(() => undefined);
    },
  };
}
