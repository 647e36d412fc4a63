// What one routines file, one event and one run may cost the server. Each limit is far above what
// a real team writes; they exist so that a file or an event written to stall the server is refused
// with a message naming the limit instead.

export const LIMITS = {
  /** Routines in one .claude/routines.yml. */
  routinesPerFile: 100,
  /** Triggers in one file, all routines together. */
  triggersPerFile: 500,
  /** Characters of one filter pattern. */
  patternLength: 256,
  /** Matching steps (glob characters compared; for a regular expression, text characters times program instructions) one event may spend on all filters of a file. */
  matchingSteps: 2_000_000,
  /** How long checking one file may take, off the event loop. */
  validationMs: 10_000,
  /** Bytes of a routine's prompt_file. */
  promptFileBytes: 100 * 1024,
  /** Bytes of a webhook body: GitHub caps payloads at 25 MB. */
  webhookBodyBytes: 25 * 1024 * 1024,
  /** Bytes of webhook bodies read at once, all requests together. */
  webhookBytesInFlight: 100 * 1024 * 1024,
  /** How long a signed body is remembered, so a replay under a new delivery id starts nothing. */
  replayWindowMs: 7 * 24 * 60 * 60 * 1000,
} as const;

/** "5.0 MB", "100 KB", "512 bytes". */
export function formatBytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  if (mb >= 1) return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}
