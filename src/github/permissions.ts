// Whether a user may start runs in a repository (write, maintain or admin), asked from GitHub and
// remembered briefly, so a burst of comments costs one call.
import type { Octokit, RepositoryRef } from "../config/read-config-file.js";

const WRITERS = new Set(["admin", "maintain", "write"]);

export class WritePermissions {
  readonly #entries = new Map<string, { allowed: boolean; expires: number }>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async canWrite(octokit: Octokit, { owner, repo }: RepositoryRef, username: string): Promise<boolean> {
    const key = `${owner}/${repo}/${username}`.toLowerCase();
    const cached = this.#entries.get(key);
    if (cached && cached.expires > this.now()) return cached.allowed;
    let allowed: boolean;
    try {
      const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner, repo, username });
      // role_name tells maintain apart from write; permission is the older, coarser field.
      allowed = WRITERS.has(data.role_name) || WRITERS.has(data.permission);
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error;
      allowed = false;
    }
    this.#entries.set(key, { allowed, expires: this.now() + this.ttlMs });
    return allowed;
  }
}
