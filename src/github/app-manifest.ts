// The manifest Probot's setup page registers the app with: app.yml, with this server's own
// addresses in place of the `localhost:3000` ones written there, so an app registered from a
// server on another port or host gets webhooks and sign-in callbacks where that server listens.

export interface ManifestAddresses {
  /** Where users and GitHub reach the server (ROUTINES_PUBLIC_URL). */
  publicUrl: string;
  /** In development, a webhook proxy channel (WEBHOOK_PROXY_URL) that GitHub posts to instead. */
  webhookProxyUrl?: string | undefined;
}

export const WEBHOOK_PATH = "/api/github/webhooks";
export const SIGN_IN_CALLBACK_PATH = "/dashboard/auth/callback";

/** The manifest with the webhook URL and the sign-in callback pointing at this server. */
export function withServerAddresses(manifest: Record<string, unknown>, { publicUrl, webhookProxyUrl }: ManifestAddresses): Record<string, unknown> {
  const base = publicUrl.replace(/\/+$/, "");
  const hook = typeof manifest.hook_attributes === "object" && manifest.hook_attributes !== null ? manifest.hook_attributes : {};
  return {
    ...manifest,
    hook_attributes: { ...hook, url: webhookProxyUrl || `${base}${WEBHOOK_PATH}` },
    callback_urls: [`${base}${SIGN_IN_CALLBACK_PATH}`],
  };
}
