// What is wrong with a verified delivery's payload, if anything, for the events the app handles:
// a payload that lacks what its handlers read is refused with a 400 naming the missing part,
// rather than accepted and failing later where GitHub cannot see it.

/** The objects (or, for `ref`, the string) each handled event carries. */
const REQUIRED: Record<string, ReadonlyArray<readonly [field: string, type: "object" | "string"]>> = {
  pull_request: [["pull_request", "object"], ["repository", "object"]],
  release: [["release", "object"], ["repository", "object"]],
  issues: [["issue", "object"], ["repository", "object"]],
  workflow_run: [["workflow_run", "object"], ["repository", "object"]],
  deployment_status: [["deployment_status", "object"], ["deployment", "object"], ["repository", "object"]],
  issue_comment: [["comment", "object"], ["issue", "object"], ["repository", "object"]],
  check_run: [["check_run", "object"], ["repository", "object"]],
  push: [["ref", "string"], ["repository", "object"]],
  installation: [["installation", "object"]],
  installation_repositories: [["installation", "object"]],
};

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** A sentence for the sender, or undefined when the payload has what the event's handlers need. */
export function deliveryProblem(event: string, payload: unknown): string | undefined {
  if (!isObject(payload)) return "the body is not a JSON object";
  const missing = (REQUIRED[event] ?? []).filter(([field, type]) => (type === "object" ? !isObject(payload[field]) : typeof payload[field] !== "string"));
  if (missing.length === 0) return undefined;
  return `this ${event} delivery needs ${missing.map(([field, type]) => `"${field}" (${type === "object" ? "an object" : "a string"})`).join(" and ")} in its payload`;
}
