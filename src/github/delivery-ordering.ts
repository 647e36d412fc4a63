// Deliveries about one pull request or issue are handled one after another, in the order they
// arrived (an `opened` before its `synchronize`); others in parallel. This names what a delivery
// is about, from its payload.

const field = (value: unknown, key: string): unknown => (typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined);

/** `owner/repo#number` for a pull request or issue, `owner/repo` for other repository events, else undefined. */
export function orderingKeyOf(payload: unknown): string | undefined {
  const repository = field(field(payload, "repository"), "full_name");
  if (typeof repository !== "string") return undefined;
  const number = field(field(payload, "pull_request"), "number") ?? field(field(payload, "issue"), "number") ?? field(field(field(field(payload, "check_run"), "pull_requests"), "0"), "number");
  return (typeof number === "number" ? `${repository}#${number}` : repository).toLowerCase();
}
