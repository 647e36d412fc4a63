// GitHub as a server on loopback, the way GitHub Enterprise Server serves it: REST under /api/v3,
// OAuth at the root, and git smart HTTP (`git http-backend` over real bare repositories) at
// /<owner>/<repo>.git. It checks credentials as GitHub does (the app's JWT, installation tokens
// with their repositories, permissions and expiry, users' OAuth tokens), keeps what was posted, and
// logs every request so tests assert on what crossed the wire.
import { createPublicKey, createVerify, randomBytes, type KeyObject } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { components } from "@octokit/openapi-types";
import { gitHttpBackend } from "../../support/git-http-backend.js";
import { commitTo, createBareRepository, git, revParse } from "./git.js";

type Schemas = components["schemas"];

export type Auth =
  | { kind: "none" }
  | { kind: "app" }
  | { kind: "installation"; token: string; installationId: number }
  | { kind: "user"; token: string; login: string }
  | { kind: "invalid"; token: string; why: string };

export interface LoggedRequest {
  method: string;
  /** Without /api/v3, without the query. */
  path: string;
  query: URLSearchParams;
  auth: Auth;
  body: any; // parsed JSON for REST; tests read the fields they check
  status?: number;
}

export interface Push {
  repository: string;
  token: string;
  updates: Array<{ old: string; new: string; ref: string }>;
  /** Bytes of the request body: the commands and the pack. */
  bytes: number;
  status?: number;
}

interface Repository {
  id: number;
  owner: string;
  name: string;
  installationId: number;
  bare: string;
  defaultBranch: string;
  private: boolean;
}

interface PullRequest {
  number: number;
  repository: string;
  head: string;
  base: string;
  title: string;
  body: string;
  user: string;
  draft: boolean;
  /** A pull request from a fork: the fork's full name. */
  fork?: string;
  state: "open" | "closed";
}

export interface Issue {
  number: number;
  repository: string;
  title: string;
  body: string;
  user: string;
  state: "open" | "closed";
  state_reason: "completed" | "not_planned" | "reopened" | null;
  labels: string[];
  assignees: string[];
  created_at: string;
  updated_at: string;
}

interface Token {
  token: string;
  installationId: number;
  /** Repositories the token is limited to (lower-case full names); all of the installation when undefined. */
  repositories?: string[];
  permissions: Record<string, string>;
  expiresAt: number;
  revoked: boolean;
}

export interface CheckRun {
  id: number;
  repository: string;
  name: string;
  head_sha: string;
  status: string;
  conclusion?: string | null;
  external_id?: string;
  output?: { title?: string; summary?: string };
  details_url?: string;
  /** Every state the check went through, in order. */
  history: Array<{ status: string; conclusion?: string | null; title?: string }>;
}

export interface FakeGitHubOptions {
  appId: number;
  privateKey: string;
  slug?: string;
  /** How long an installation token lives; by default an hour, as on GitHub. */
  tokenLifetimeMs?: (request: { repositories?: string[] }) => number;
}

/** GraphQL's ReactionContent names of REST's reaction contents. */
const GRAPHQL_REACTIONS: Record<string, string> = { "+1": "THUMBS_UP", "-1": "THUMBS_DOWN", laugh: "LAUGH", confused: "CONFUSED", heart: "HEART", hooray: "HOORAY", rocket: "ROCKET", eyes: "EYES" };

const APP_PERMISSIONS = { contents: "write", pull_requests: "write", issues: "write", checks: "write", metadata: "read", members: "read" };

export class FakeGitHub {
  readonly requests: LoggedRequest[] = [];
  readonly pushes: Push[] = [];
  readonly checkRuns: CheckRun[] = [];
  /**
   * How check-run writes are answered: each after `delayMs`, and every `failEvery`-th (0: none)
   * with a 502, after applying the write when `applyFailed` (GitHub sometimes does both).
   */
  readonly checkRunFaults = { delayMs: 0, failEvery: 0, applyFailed: false };
  #checkRunWrites = 0;
  /**
   * How comment creations on issues and pull requests are answered: the next `failNext` of them
   * with a 502, after applying the comment when `applyFailed` (the answer lost on the way back).
   */
  readonly commentFaults = { failNext: 0, applyFailed: false };
  /**
   * Requests held before GitHub answers them, by repository route ("GET /pulls/:number") → ms:
   * a test arranges that a handler is under way when the server is killed.
   */
  readonly routeDelays = new Map<string, number>();
  readonly comments: Array<{ id: number; repository: string; issue: number; body: string; user: string }> = [];
  /** Every edit of an issue comment (PATCH), in order: the comment's id and the text it was given. */
  readonly commentEdits: Array<{ id: number; repository: string; body: string }> = [];
  /** Reviews and their inline comments; `user` is the author's login (the app's bot when absent). A reply is a review of its own, as on GitHub. */
  readonly reviews: Array<{ id: number; repository: string; pull: number; body: string; event: string; commit_id: string; comments: any[]; user?: string }> = [];
  /**
   * How a pull request's files are listed. By default all at once, with every patch. With
   * `paginate`, as GitHub does: `per_page` (30 by default, at most 100) a page, a Link header to the
   * next and last pages, and at most 3000 files. Patches longer than `patchLimit` characters are
   * left out, as GitHub leaves out the patch of a file whose diff is too large to show.
   */
  readonly pullFileListing: { paginate: boolean; patchLimit?: number } = { paginate: false };
  readonly #pullFilesCache = new Map<string, Promise<Array<Partial<Schemas["diff-entry"]>>>>();
  /** Review threads resolved (GraphQL resolveReviewThread), by the id of their first comment. */
  readonly resolvedThreads = new Set<number>();
  readonly reactions: Array<{ repository: string; commentId: number; content: string; user?: string }> = [];
  readonly tokens = new Map<string, Token>();
  readonly pullRequests = new Map<string, PullRequest>();
  /** Issues by "owner/repo#number" (lower-case name); they share numbers with pull requests, as on GitHub. */
  readonly issues = new Map<string, Issue>();
  /** Permission of users on repositories ("owner/repo:login" → admin, write, read…); "read" otherwise. */
  readonly permissions = new Map<string, string>();
  readonly installations = new Map<number, { account: string; type: "User" | "Organization" }>();
  readonly slug: string;
  url = "";
  /** Codes of app manifests a user confirmed on GitHub, with what the conversion answers. */
  readonly manifestCodes = new Map<string, { name: string; webhookSecret: string }>();
  /** Who GitHub's authorize page signs in next, and the codes it handed out. */
  signedInUser = "octocat";
  readonly #codes = new Map<string, string>();
  readonly #userTokens = new Map<string, string>();
  readonly #repositories = new Map<string, Repository>();
  readonly #publicKey: KeyObject;
  #root = "";
  #nextId = 1000;
  #server = createServer((req, res) => void this.#handle(req, res));

  constructor(private readonly options: FakeGitHubOptions) {
    this.slug = options.slug ?? "routines-test";
    this.#publicKey = createPublicKey(options.privateKey);
  }

  get apiUrl(): string {
    return `${this.url}/api/v3`;
  }

  get host(): string {
    return new URL(this.url).host;
  }

  /** The app's bot user, as GitHub names it. */
  get botLogin(): string {
    return `${this.slug}[bot]`;
  }

  async start(): Promise<this> {
    this.#root = await mkdtemp(join(tmpdir(), "routines-e2e-github-"));
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  addInstallation(id: number, account: string, type: "User" | "Organization" = "Organization"): void {
    this.installations.set(id, { account, type });
  }

  /** A repository with `files` on `main`, installed in `installationId`. */
  async addRepository(fullName: string, installationId: number, files: Record<string, string | Buffer>, { private: isPrivate = true } = {}): Promise<Repository> {
    const [owner = "", name = ""] = fullName.split("/");
    const bare = join(this.#root, owner, `${name}.git`);
    await createBareRepository(bare, files);
    const repository: Repository = { id: this.#nextId++, owner, name, installationId, bare, defaultBranch: "main", private: isPrivate };
    this.#repositories.set(fullName.toLowerCase(), repository);
    return repository;
  }

  repository(fullName: string): Repository {
    const repository = this.#repositories.get(fullName.toLowerCase());
    if (!repository) throw new Error(`no repository ${fullName}`);
    return repository;
  }

  /** Commits files to a branch (made from `from`, default the default branch); returns the commit. */
  async commit(fullName: string, branch: string, files: Record<string, string | Buffer>, { from, message }: { from?: string; message?: string } = {}): Promise<string> {
    const repository = this.repository(fullName);
    const base = from ?? ((await revParse(repository.bare, `refs/heads/${branch}`)) ? branch : repository.defaultBranch);
    return commitTo(repository.bare, branch, base, files, message);
  }

  async tag(fullName: string, tag: string, ref: string): Promise<string> {
    const repository = this.repository(fullName);
    await git(repository.bare, "tag", tag, ref);
    return (await revParse(repository.bare, `refs/tags/${tag}^{commit}`))!;
  }

  async sha(fullName: string, ref: string): Promise<string> {
    const sha = await revParse(this.repository(fullName).bare, ref);
    if (!sha) throw new Error(`${fullName} has no ${ref}`);
    return sha;
  }

  /** Reads a file at a ref of the served repository (what a push left there). */
  async file(fullName: string, ref: string, path: string): Promise<string | undefined> {
    try {
      return await git(this.repository(fullName).bare, "show", `${ref}:${path}`);
    } catch {
      return undefined;
    }
  }

  /** Opens a pull request from `head` into `base`; refs/pull/<n>/head follows the head branch. */
  /** Opens a pull request; with `fork`, it comes from that fork (its head commits live in this repository, as GitHub keeps them under refs/pull). */
  async openPullRequest(fullName: string, pull: { head: string; base?: string; title?: string; body?: string; user?: string; number?: number; draft?: boolean; fork?: string }): Promise<PullRequest> {
    const repository = this.repository(fullName);
    const number = pull.number ?? this.#nextId++;
    const record: PullRequest = {
      number,
      repository: fullName.toLowerCase(),
      head: pull.head,
      base: pull.base ?? repository.defaultBranch,
      title: pull.title ?? `Change ${number}`,
      body: pull.body ?? "",
      user: pull.user ?? "octocat",
      draft: pull.draft ?? false,
      ...(pull.fork ? { fork: pull.fork } : {}),
      state: "open",
    };
    this.pullRequests.set(`${record.repository}#${number}`, record);
    await this.#syncPullRef(record);
    return record;
  }

  /** Moves a pull request's head branch on with a new commit, as a push to it would. */
  async pushToPullRequest(fullName: string, number: number, files: Record<string, string | Buffer>): Promise<string> {
    const pull = this.#pull(fullName, number);
    const sha = await this.commit(fullName, pull.head, files);
    await this.#syncPullRef(pull);
    return sha;
  }

  /** Merges the base branch into a pull request's head branch, as GitHub's "Update branch" does (no conflicts expected). */
  async updatePullRequestBranch(fullName: string, number: number): Promise<string> {
    const pull = this.#pull(fullName, number);
    const repository = this.repository(fullName);
    const [head, base] = [`refs/heads/${pull.head}`, `refs/heads/${pull.base}`];
    const tree = (await git(repository.bare, "merge-tree", "--write-tree", head, base)).trim();
    const sha = (await git(repository.bare, "commit-tree", tree, "-p", head, "-p", base, "-m", `Merge branch '${pull.base}' into ${pull.head}`)).trim();
    await git(repository.bare, "update-ref", head, sha);
    await this.#syncPullRef(pull);
    return sha;
  }

  /**
   * Rewrites a pull request's head branch, as a force-push after a rebase would: a new commit with
   * `files` on top of the base branch, which the old head is not part of.
   */
  async rewritePullRequest(fullName: string, number: number, files: Record<string, string | Buffer>): Promise<string> {
    const pull = this.#pull(fullName, number);
    const repository = this.repository(fullName);
    const scratch = `rewrite-${this.#nextId++}`;
    const sha = await this.commit(fullName, scratch, files, { from: pull.base });
    await git(repository.bare, "update-ref", `refs/heads/${pull.head}`, sha);
    await git(repository.bare, "update-ref", "-d", `refs/heads/${scratch}`);
    await this.#syncPullRef(pull);
    return sha;
  }

  /** An inline review comment by `user` (a person, not the app), on the pull request's head. */
  async addReviewComment(fullName: string, number: number, comment: { path: string; line: number; side?: "LEFT" | "RIGHT"; start_line?: number; body: string; user: string }): Promise<number> {
    const pull = this.#pull(fullName, number);
    const id = this.#nextId++;
    const { user, ...fields } = comment;
    const commitId = await this.sha(fullName, `refs/heads/${pull.head}`);
    this.reviews.push({ id, repository: fullName.toLowerCase(), pull: number, body: "", event: "COMMENT", commit_id: commitId, user, comments: [{ side: "RIGHT", ...fields, id: this.#nextId++, pull_request_review_id: id, user: this.userJson(user) }] });
    return this.reviews.at(-1)!.comments[0].id;
  }

  /** A reply in the thread that comment `rootId` started; a review of its own, as on GitHub. */
  addReviewReply(fullName: string, number: number, rootId: number, body: string, user: string): any {
    const root = this.#rootComment(fullName, number, rootId);
    if (!root) throw new Error(`no review comment ${rootId} on ${fullName}#${number}`);
    const id = this.#nextId++;
    const reply = { path: root.comment.path, line: root.comment.line, side: root.comment.side, body, in_reply_to_id: rootId, id: this.#nextId++, pull_request_review_id: id, user: this.userJson(user, user.endsWith("[bot]") ? "Bot" : "User") };
    this.reviews.push({ id, repository: fullName.toLowerCase(), pull: number, body: "", event: "COMMENT", commit_id: root.review.commit_id, user, comments: [reply] });
    return reply;
  }

  /** The review comments that start threads, with their reviews. */
  #threadRoots(fullName: string, number: number): Array<{ review: FakeGitHub["reviews"][number]; comment: any }> {
    return this.reviews
      .filter((r) => r.repository === fullName.toLowerCase() && r.pull === number)
      .flatMap((review) => review.comments.filter((comment) => comment.in_reply_to_id === undefined).map((comment) => ({ review, comment })));
  }

  #rootComment(fullName: string, number: number, id: number): { review: FakeGitHub["reviews"][number]; comment: any } | undefined {
    return this.#threadRoots(fullName, number).find(({ comment }) => comment.id === id);
  }

  /**
   * Where a comment is on the pull request's head now: its lines when they read as they did on the
   * commit it was made on; null, outdated, when they changed. (GitHub also follows lines that moved;
   * this fake does not.)
   */
  async #position(pull: PullRequest, commitId: string, comment: any): Promise<{ line: number | null; startLine: number | null; outdated: boolean }> {
    const start = comment.start_line ?? comment.line;
    if ((comment.side ?? "RIGHT") === "LEFT") return { line: comment.line, startLine: comment.start_line ?? null, outdated: false };
    const lines = async (ref: string) => (await this.file(pull.repository, ref, comment.path))?.split("\n").slice(start - 1, comment.line);
    const then = await lines(commitId);
    const now = await lines(`refs/heads/${pull.head}`);
    const same = then !== undefined && now !== undefined && then.length === now.length && then.every((line, i) => line === now[i]);
    return same ? { line: comment.line, startLine: comment.start_line ?? null, outdated: false } : { line: null, startLine: null, outdated: true };
  }

  /** A review comment as GitHub's REST API lists it. */
  async #reviewCommentJson(pull: PullRequest, review: FakeGitHub["reviews"][number], comment: any): Promise<unknown> {
    const root = comment.in_reply_to_id === undefined ? comment : this.#rootComment(pull.repository, pull.number, comment.in_reply_to_id)?.comment ?? comment;
    const { line, startLine } = await this.#position(pull, review.commit_id, root);
    const url = `${this.url}/${pull.repository}/pull/${pull.number}#discussion_r${comment.id}`;
    return { ...comment, line, start_line: startLine, original_line: root.line, original_start_line: root.start_line ?? null, commit_id: review.commit_id, original_commit_id: review.commit_id, html_url: url };
  }

  /** GitHub's compare of two commits (`base...head`): how they relate, and the files changed since their merge base. */
  async #compare(repository: Repository, basehead: string): Promise<Answer> {
    const [base = "", head = ""] = basehead.split("...");
    const baseSha = await revParse(repository.bare, `${base}^{commit}`);
    const headSha = await revParse(repository.bare, `${head}^{commit}`);
    if (!baseSha || !headSha) return { status: 404, body: { message: `No commit found for SHA: ${baseSha ? head : base}`, documentation_url: "https://docs.github.com/rest/commits/commits#compare-two-commits" } };
    const mergeBase = (await git(repository.bare, "merge-base", baseSha, headSha).catch(() => "")).trim();
    if (!mergeBase) return { status: 404, body: { message: `No common ancestor between ${base} and ${head}.`, documentation_url: "https://docs.github.com/rest/commits/commits#compare-two-commits" } };
    const count = async (range: string) => Number((await git(repository.bare, "rev-list", "--count", range)).trim());
    const aheadBy = await count(`${baseSha}..${headSha}`);
    const behindBy = await count(`${headSha}..${baseSha}`);
    const status = aheadBy === 0 && behindBy === 0 ? "identical" : behindBy === 0 ? "ahead" : aheadBy === 0 ? "behind" : "diverged";
    const commits = (await git(repository.bare, "rev-list", "--reverse", `${baseSha}..${headSha}`)).split("\n").filter(Boolean).map((sha) => ({ sha }));
    return ok({ status, ahead_by: aheadBy, behind_by: behindBy, total_commits: commits.length, base_commit: { sha: baseSha }, merge_base_commit: { sha: mergeBase }, commits, files: await this.#diffFiles(repository.bare, `${mergeBase}...${headSha}`) });
  }

  /**
   * GitHub's GraphQL API (/api/graphql on GitHub Enterprise Server), for what the app asks of it:
   * a pull request's review threads, and resolving one. Shapes as GitHub documents them.
   */
  async #graphql(entry: LoggedRequest): Promise<Answer> {
    const { auth } = entry;
    if (entry.method !== "POST") return notFound();
    if (auth.kind === "invalid") return { status: 401, body: { message: "Bad credentials", documentation_url: "https://docs.github.com/graphql" } };
    if (auth.kind !== "installation") return { status: 401, body: { message: "This endpoint requires you to be authenticated.", documentation_url: "https://docs.github.com/graphql" } };
    const query = String(entry.body?.query ?? "");
    const variables = (entry.body?.variables ?? {}) as Record<string, unknown>;
    const token = this.tokens.get(auth.token)!;
    const visible = (repository: Repository) => repository.installationId === auth.installationId && this.#inScope(auth.token, repository);
    if (/\bresolveReviewThread\b/.test(query)) {
      const threadId = String(variables.threadId ?? "");
      const rootId = Number(/^PRRT_(\d+)$/.exec(threadId)?.[1]);
      const found = this.reviews.find((review) => review.comments.some((comment) => comment.id === rootId && comment.in_reply_to_id === undefined));
      const repository = found && this.#repositories.get(found.repository);
      if (!found || !repository || !visible(repository)) return ok({ data: { resolveReviewThread: null }, errors: [{ type: "NOT_FOUND", path: ["resolveReviewThread"], locations: [{ line: 1, column: 1 }], message: `Could not resolve to a node with the global id of '${threadId}'` }] });
      if (token.permissions.pull_requests !== "write") return ok({ data: { resolveReviewThread: null }, errors: [{ type: "FORBIDDEN", path: ["resolveReviewThread"], locations: [{ line: 1, column: 1 }], message: "Resource not accessible by integration" }] });
      this.resolvedThreads.add(rootId);
      return ok({ data: { resolveReviewThread: { thread: { id: threadId, isResolved: true } } } });
    }
    if (/\breviewThreads\b/.test(query)) {
      const repository = this.#repositories.get(`${variables.owner}/${variables.name}`.toLowerCase());
      if (!repository || !visible(repository)) return ok({ data: { repository: null }, errors: [{ type: "NOT_FOUND", path: ["repository"], locations: [{ line: 1, column: 1 }], message: `Could not resolve to a Repository with the name '${variables.owner}/${variables.name}'.` }] });
      const fullName = `${repository.owner}/${repository.name}`;
      const pull = this.pullRequests.get(`${fullName.toLowerCase()}#${variables.number}`);
      if (!pull) return ok({ data: { repository: { pullRequest: null } }, errors: [{ type: "NOT_FOUND", path: ["repository", "pullRequest"], locations: [{ line: 1, column: 1 }], message: `Could not resolve to a PullRequest with the number of ${variables.number}.` }] });
      const nodes = [];
      for (const { review, comment } of this.#threadRoots(fullName, pull.number)) {
        const replies = this.reviews.filter((r) => r.repository === fullName.toLowerCase() && r.pull === pull.number).flatMap((r) => r.comments.filter((c) => c.in_reply_to_id === comment.id));
        const { line, startLine, outdated } = await this.#position(pull, review.commit_id, comment);
        const author = (login: string) => (login.endsWith("[bot]") ? { __typename: "Bot", login: login.slice(0, -"[bot]".length) } : { __typename: "User", login });
        nodes.push({
          id: `PRRT_${comment.id}`,
          isResolved: this.resolvedThreads.has(comment.id),
          isOutdated: outdated,
          path: comment.path,
          line,
          startLine,
          originalLine: comment.line,
          originalStartLine: comment.start_line ?? null,
          diffSide: comment.side ?? "RIGHT",
          comments: {
            nodes: [comment, ...replies].map((c) => ({
              databaseId: c.id,
              body: c.body,
              url: `${this.url}/${fullName}/pull/${pull.number}#discussion_r${c.id}`,
              author: author(c.user?.login ?? this.botLogin),
              createdAt: "2026-01-01T00:00:00Z",
              originalCommit: { oid: this.reviews.find((r) => r.comments.includes(c))?.commit_id ?? review.commit_id },
              // Reactions on review comments, as `reactions` holds them (REST's contents, GraphQL's names).
              reactions: {
                nodes: this.reactions
                  .filter((r) => r.repository === fullName.toLowerCase() && r.commentId === c.id)
                  .map((r) => ({ content: GRAPHQL_REACTIONS[r.content] ?? r.content, user: author(r.user ?? this.botLogin) })),
              },
            })),
          },
        });
      }
      // One page: the tests' pull requests have far fewer threads than a page holds.
      return ok({ data: { repository: { pullRequest: { reviewThreads: { pageInfo: { hasNextPage: false, endCursor: null }, nodes } } } } });
    }
    return ok({ errors: [{ message: "the fake GitHub answers only reviewThreads and resolveReviewThread" }] });
  }

  async #syncPullRef(pull: PullRequest): Promise<void> {
    const repository = this.repository(pull.repository);
    const sha = await this.sha(pull.repository, `refs/heads/${pull.head}`);
    await git(repository.bare, "update-ref", `refs/pull/${pull.number}/head`, sha);
  }

  #pull(fullName: string, number: number): PullRequest {
    const pull = this.pullRequests.get(`${fullName.toLowerCase()}#${number}`);
    if (!pull) throw new Error(`no pull request ${fullName}#${number}`);
    return pull;
  }

  /** Opens an issue (as `user`, default octocat) with labels and assignees, and optionally comments on it. */
  addIssue(fullName: string, issue: { title: string; body?: string; user?: string; labels?: string[]; assignees?: string[]; state?: "open" | "closed"; comments?: Array<{ body: string; user?: string }> }): Issue {
    this.repository(fullName);
    const now = new Date().toISOString();
    const record: Issue = {
      number: this.#nextId++,
      repository: fullName.toLowerCase(),
      title: issue.title,
      body: issue.body ?? "",
      user: issue.user ?? "octocat",
      state: issue.state ?? "open",
      state_reason: issue.state === "closed" ? "completed" : null,
      labels: issue.labels ?? [],
      assignees: issue.assignees ?? [],
      created_at: now,
      updated_at: now,
    };
    this.issues.set(`${record.repository}#${record.number}`, record);
    for (const comment of issue.comments ?? []) this.comments.push({ id: this.#nextId++, repository: record.repository, issue: record.number, body: comment.body, user: comment.user ?? "octocat" });
    return record;
  }

  /** An issue as it is now. */
  issue(fullName: string, number: number): Issue {
    const issue = this.issues.get(`${fullName.toLowerCase()}#${number}`);
    if (!issue) throw new Error(`no issue ${fullName}#${number}`);
    return issue;
  }

  issueJson(issue: Issue): Partial<Schemas["issue"]> {
    const repository = this.repository(issue.repository);
    const fullName = `${repository.owner}/${repository.name}`;
    return {
      id: issue.number * 10 + 1,
      node_id: `I_${issue.number}`,
      number: issue.number,
      title: issue.title,
      body: issue.body,
      state: issue.state,
      state_reason: issue.state_reason,
      user: this.userJson(issue.user) as Schemas["simple-user"],
      labels: issue.labels.map((name) => ({ id: [...name].reduce((sum, char) => sum * 31 + char.charCodeAt(0), 7) % 1_000_000, node_id: `LA_${name}`, name, color: "ededed", default: false, description: null, url: `${this.apiUrl}/repos/${fullName}/labels/${encodeURIComponent(name)}` })),
      assignees: issue.assignees.map((login) => this.userJson(login) as Schemas["simple-user"]),
      assignee: issue.assignees[0] ? (this.userJson(issue.assignees[0]) as Schemas["simple-user"]) : null,
      comments: this.comments.filter((c) => c.repository === issue.repository && c.issue === issue.number).length,
      locked: false,
      author_association: "NONE",
      created_at: issue.created_at,
      updated_at: issue.updated_at,
      closed_at: issue.state === "closed" ? issue.updated_at : null,
      html_url: `${this.url}/${fullName}/issues/${issue.number}`,
      url: `${this.apiUrl}/repos/${fullName}/issues/${issue.number}`,
      repository_url: `${this.apiUrl}/repos/${fullName}`,
    };
  }

  /** A pull request seen as an issue, as GitHub's issue endpoints show it. */
  #pullAsIssue(pull: PullRequest): Issue {
    return { number: pull.number, repository: pull.repository, title: pull.title, body: pull.body, user: pull.user, state: pull.state, state_reason: null, labels: [], assignees: [], created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z" };
  }

  #issueOrPull(fullName: string, number: number): { issue: Issue; pull: boolean } | undefined {
    const key = `${fullName.toLowerCase()}#${number}`;
    const issue = this.issues.get(key);
    if (issue) return { issue, pull: false };
    const pull = this.pullRequests.get(key);
    return pull ? { issue: this.#pullAsIssue(pull), pull: true } : undefined;
  }

  /** Requests made with the given method to paths matching `path`. */
  find(method: string, path: RegExp | string): LoggedRequest[] {
    return this.requests.filter((request) => request.method === method && (typeof path === "string" ? request.path === path : path.test(request.path)));
  }

  // ---------------------------------------------------------------- HTTP

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    if (/^\/[^/]+\/[^/]+\.git\//.test(url.pathname)) return this.#git(req, res, url);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: any = undefined;
    if (text) {
      try {
        body = (req.headers["content-type"] ?? "").includes("x-www-form-urlencoded") ? Object.fromEntries(new URLSearchParams(text)) : JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const api = url.pathname.startsWith("/api/v3/");
    const path = api ? url.pathname.slice("/api/v3".length) : url.pathname;
    const entry: LoggedRequest = { method: req.method ?? "GET", path, query: url.searchParams, auth: this.#authenticate(req), body };
    this.requests.push(entry);
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      if (payload === undefined) return void res.writeHead(status, headers).end();
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers }).end(JSON.stringify(payload));
    };
    try {
      const answer = api ? await this.#rest(entry, req) : path === "/api/graphql" ? await this.#graphql(entry) : await this.#web(entry);
      if (answer.redirect) {
        entry.status = 302;
        return void res.writeHead(302, { location: answer.redirect }).end();
      }
      send(answer.status, answer.body, answer.headers);
    } catch (error) {
      send(500, { message: `fake GitHub failed: ${(error as Error).message}` });
    }
  }

  #authenticate(req: IncomingMessage): Auth {
    const header = req.headers.authorization ?? "";
    const [scheme = "", credential = ""] = header.split(" ");
    if (!header) return { kind: "none" };
    if (/^bearer$/i.test(scheme) && credential.split(".").length === 3) {
      return this.#verifyJwt(credential) ? { kind: "app" } : { kind: "invalid", token: credential, why: "the JWT does not verify" };
    }
    return this.#tokenAuth(credential);
  }

  #tokenAuth(token: string): Auth {
    const installation = this.tokens.get(token);
    if (installation) {
      if (installation.revoked) return { kind: "invalid", token, why: "revoked" };
      if (installation.expiresAt <= Date.now()) return { kind: "invalid", token, why: "expired" };
      return { kind: "installation", token, installationId: installation.installationId };
    }
    const login = this.#userTokens.get(token);
    if (login) return { kind: "user", token, login };
    return { kind: "invalid", token, why: "unknown token" };
  }

  #verifyJwt(jwt: string): boolean {
    const [header = "", payload = "", signature = ""] = jwt.split(".");
    const verifier = createVerify("RSA-SHA256");
    verifier.update(`${header}.${payload}`);
    if (!verifier.verify(this.#publicKey, Buffer.from(signature, "base64url"))) return false;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { iss?: string | number; exp?: number };
    return String(claims.iss) === String(this.options.appId) && (claims.exp ?? 0) * 1000 > Date.now();
  }

  repositoryJson(repository: Repository): Partial<Schemas["full-repository"]> {
    const fullName = `${repository.owner}/${repository.name}`;
    return {
      id: repository.id,
      node_id: `R_${repository.id}`,
      name: repository.name,
      full_name: fullName,
      private: repository.private,
      owner: this.userJson(repository.owner, this.installations.get(repository.installationId)?.type ?? "Organization") as Schemas["simple-user"],
      html_url: `${this.url}/${fullName}`,
      url: `${this.apiUrl}/repos/${fullName}`,
      clone_url: `${this.url}/${fullName}.git`,
      default_branch: repository.defaultBranch,
      fork: false,
      archived: false,
      disabled: false,
    };
  }

  userJson(login: string, type = "User"): Partial<Schemas["simple-user"]> {
    const id = login === this.botLogin ? 9_000_001 : [...login].reduce((sum, char) => sum * 31 + char.charCodeAt(0), 7) % 1_000_000;
    return { login, id, node_id: `U_${id}`, type, site_admin: false, html_url: `${this.url}/${login}`, avatar_url: `${this.url}/avatars/${login}` };
  }

  async pullJson(pull: PullRequest): Promise<Partial<Schemas["pull-request"]>> {
    const repository = this.repository(pull.repository);
    const repo = this.repositoryJson(repository);
    const headSha = await this.sha(pull.repository, `refs/heads/${pull.head}`);
    const baseSha = await this.sha(pull.repository, `refs/heads/${pull.base}`);
    const headRepo = pull.fork ? { ...repo, full_name: pull.fork, name: pull.fork.split("/")[1]!, fork: true } : repo;
    return {
      number: pull.number,
      id: pull.number * 10,
      state: pull.state,
      title: pull.title,
      body: pull.body,
      draft: pull.draft,
      merged: false,
      user: this.userJson(pull.user) as Schemas["simple-user"],
      labels: [],
      html_url: `${this.url}/${repo.full_name}/pull/${pull.number}`,
      head: { ref: pull.head, sha: headSha, label: `${repository.owner}:${pull.head}`, repo: headRepo, user: repo.owner } as Schemas["pull-request"]["head"],
      base: { ref: pull.base, sha: baseSha, label: `${repository.owner}:${pull.base}`, repo, user: repo.owner } as Schemas["pull-request"]["base"],
    };
  }

  /** The pull request's files with GitHub's patches (hunks only, no headers). */
  async #pullFiles(pull: PullRequest): Promise<Array<Partial<Schemas["diff-entry"]>>> {
    return this.#diffFiles(this.repository(pull.repository).bare, `refs/heads/${pull.base}...refs/heads/${pull.head}`);
  }

  /** One page of a pull request's files as GitHub lists them (see pullFileListing). */
  async #pullFilesPage(pull: PullRequest, entry: LoggedRequest): Promise<Answer> {
    const { bare } = this.repository(pull.repository);
    const key = `${bare}:${await revParse(bare, `refs/heads/${pull.base}`)}:${await revParse(bare, `refs/heads/${pull.head}`)}`;
    if (!this.#pullFilesCache.has(key)) this.#pullFilesCache.set(key, this.#pullFiles(pull));
    const limit = this.pullFileListing.patchLimit;
    const all = (await this.#pullFilesCache.get(key)!).slice(0, 3000).map(({ patch, ...file }) => (patch !== undefined && (limit === undefined || patch.length <= limit) ? { ...file, patch } : file));
    if (!this.pullFileListing.paginate) return ok(all);
    const perPage = Math.min(100, Number(entry.query.get("per_page") ?? 30));
    const page = Math.max(1, Number(entry.query.get("page") ?? 1));
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const link = (n: number, rel: string) => `<${this.url}/api/v3${entry.path}?per_page=${perPage}&page=${n}>; rel="${rel}"`;
    const links = page < last ? [link(page + 1, "next"), link(last, "last")] : [];
    return ok(all.slice((page - 1) * perPage, page * perPage), links.length > 0 ? { link: links.join(", ") } : {});
  }

  /** The files a range (`a...b`) changes, with GitHub's patches. */
  async #diffFiles(bare: string, range: string): Promise<Array<Partial<Schemas["diff-entry"]>>> {
    const statuses = (await git(bare, "diff", "--no-renames", "--name-status", range)).trim().split("\n").filter(Boolean);
    const files: Array<Partial<Schemas["diff-entry"]>> = [];
    for (const line of statuses) {
      const [code = "M", filename = ""] = line.split("\t");
      const diff = await git(bare, "diff", "--no-renames", range, "--", filename);
      const at = diff.indexOf("\n@@");
      const patch = at >= 0 ? diff.slice(at + 1).replace(/\n$/, "") : undefined;
      const lines = (patch ?? "").split("\n");
      files.push({
        filename,
        status: code === "A" ? "added" : code === "D" ? "removed" : "modified",
        additions: lines.filter((l) => l.startsWith("+")).length,
        deletions: lines.filter((l) => l.startsWith("-")).length,
        changes: lines.filter((l) => l.startsWith("+") || l.startsWith("-")).length,
        ...(patch ? { patch } : {}),
      });
    }
    return files;
  }

  async #web(entry: LoggedRequest): Promise<Answer> {
    if (entry.method === "GET" && entry.path === "/login/oauth/authorize") {
      const code = randomBytes(10).toString("hex");
      this.#codes.set(code, this.signedInUser);
      const back = new URL(entry.query.get("redirect_uri") ?? "");
      back.searchParams.set("code", code);
      back.searchParams.set("state", entry.query.get("state") ?? "");
      return { status: 302, redirect: back.toString() };
    }
    if (entry.method === "POST" && entry.path === "/login/oauth/access_token") {
      const login = this.#codes.get(entry.body?.code);
      if (!login) return ok({ error: "bad_verification_code", error_description: "The code passed is incorrect or expired." });
      this.#codes.delete(entry.body.code);
      const token = `ghu_${randomBytes(12).toString("hex")}`;
      this.#userTokens.set(token, login);
      return ok({ access_token: token, token_type: "bearer", scope: "" });
    }
    return notFound();
  }

  async #rest(entry: LoggedRequest, req: IncomingMessage): Promise<Answer> {
    const { method, path, auth } = entry;
    const route = (pattern: string) => matchRoute(method, path, pattern);
    if (auth.kind === "invalid") return { status: 401, body: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" } };
    let params: Record<string, string> | undefined;

    // The manifest flow: the code GitHub handed the browser becomes the new app's credentials.
    if ((params = route("POST /app-manifests/:code/conversions"))) {
      const manifest = this.manifestCodes.get(params.code!);
      if (!manifest) return notFound();
      this.manifestCodes.delete(params.code!);
      return {
        status: 201,
        body: {
          id: this.options.appId,
          slug: this.slug,
          name: manifest.name,
          client_id: "Iv1.manifest",
          client_secret: "manifest-client-secret",
          webhook_secret: manifest.webhookSecret,
          pem: this.options.privateKey,
          html_url: `${this.url}/apps/${this.slug}`,
        },
      };
    }

    // The app, with its JWT.
    if ((params = route("GET /app"))) return this.#asApp(auth, () => ok({ id: this.options.appId, slug: this.slug, name: "Routines", owner: this.userJson("octo-org", "Organization"), permissions: APP_PERMISSIONS, events: [] }));
    if ((params = route("GET /app/installations")))
      return this.#asApp(auth, () => ok([...this.installations].map(([id, { account, type }]) => ({ id, account: this.userJson(account, type), suspended_at: null, app_id: this.options.appId }))));
    if ((params = route("GET /repos/:owner/:repo/installation"))) {
      const { owner, repo } = params;
      return this.#asApp(auth, () => {
        const repository = this.#repositories.get(`${owner}/${repo}`.toLowerCase());
        return repository ? ok({ id: repository.installationId, account: this.userJson(repository.owner) }) : notFound();
      });
    }
    if ((params = route("POST /app/installations/:id/access_tokens"))) {
      const id = Number(params.id);
      return this.#asApp(auth, () => {
        if (!this.installations.has(id)) return notFound();
        const names: string[] | undefined = entry.body?.repositories;
        const repositories = names?.map((name) => [...this.#repositories.values()].find((r) => r.installationId === id && r.name.toLowerCase() === name.toLowerCase()));
        if (repositories?.some((r) => !r)) return { status: 422, body: { message: "There is at least one repository that does not exist or is not accessible to the parent installation." } };
        const token = `ghs_${randomBytes(16).toString("hex")}`;
        const lifetime = this.options.tokenLifetimeMs?.({ ...(names ? { repositories: names } : {}) }) ?? 3_600_000;
        const record: Token = {
          token,
          installationId: id,
          ...(repositories ? { repositories: repositories.map((r) => `${r!.owner}/${r!.name}`.toLowerCase()) } : {}),
          permissions: entry.body?.permissions ?? APP_PERMISSIONS,
          expiresAt: Date.now() + lifetime,
          revoked: false,
        };
        this.tokens.set(token, record);
        return {
          status: 201,
          body: {
            token,
            expires_at: new Date(record.expiresAt).toISOString(),
            permissions: record.permissions,
            repository_selection: repositories ? "selected" : "all",
            ...(repositories ? { repositories: repositories.map((r) => this.repositoryJson(r!)) } : {}),
          },
        };
      });
    }

    // An installation token.
    if ((params = route("DELETE /installation/token"))) {
      if (auth.kind !== "installation") return unauthorized();
      this.tokens.get(auth.token)!.revoked = true;
      return { status: 204 };
    }
    if ((params = route("GET /installation/repositories"))) {
      if (auth.kind !== "installation") return unauthorized();
      const repositories = [...this.#repositories.values()].filter((r) => r.installationId === auth.installationId && this.#inScope(auth.token, r));
      return ok({ total_count: repositories.length, repositories: repositories.map((r) => this.repositoryJson(r)) });
    }
    if ((params = route("GET /users/:login"))) return ok(this.userJson(params.login!, params.login!.endsWith("[bot]") ? "Bot" : "User"));

    // A signed-in user's token.
    if ((params = route("GET /user"))) return auth.kind === "user" ? ok(this.userJson(auth.login)) : unauthorized();
    if ((params = route("GET /user/installations"))) {
      if (auth.kind !== "user") return unauthorized();
      const ids = [...this.installations.keys()].filter((id) => [...this.#repositories.values()].some((r) => r.installationId === id && this.#permission(r, auth.login) !== "none"));
      return ok({ total_count: ids.length, installations: ids.map((id) => ({ id, account: this.userJson(this.installations.get(id)!.account, this.installations.get(id)!.type) })) });
    }
    if ((params = route("GET /user/installations/:id/repositories"))) {
      if (auth.kind !== "user") return unauthorized();
      const login = auth.login;
      const repositories = [...this.#repositories.values()].filter((r) => r.installationId === Number(params!.id) && this.#permission(r, login) !== "none");
      return ok({
        total_count: repositories.length,
        repositories: repositories.map((r) => {
          const permission = this.#permission(r, login);
          return { ...this.repositoryJson(r), permissions: { admin: permission === "admin", maintain: permission === "maintain", push: ["admin", "maintain", "write"].includes(permission), pull: true } };
        }),
      });
    }
    if ((params = route("GET /user/memberships/orgs/:org"))) {
      if (auth.kind !== "user") return unauthorized();
      const admin = this.permissions.get(`${params.org}:${auth.login}`.toLowerCase()) === "admin";
      return admin ? ok({ role: "admin", state: "active" }) : notFound();
    }

    // Search: what the token can see (its repositories, and public ones), filtered by the query.
    if ((params = route("GET /search/issues"))) {
      if (auth.kind !== "installation") return unauthorized();
      return ok(this.#searchIssues(entry.query.get("q") ?? "", auth.token, Number(entry.query.get("per_page") ?? 30)));
    }

    // A repository: an installation token whose scope includes it.
    const inRepository = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    if (inRepository) {
      const repository = this.#repositories.get(`${inRepository[1]}/${inRepository[2]}`.toLowerCase());
      if (!repository) return notFound();
      if (auth.kind !== "installation" || auth.installationId !== repository.installationId || !this.#inScope(auth.token, repository)) return notFound();
      return this.#repositoryRoute(entry, repository, this.tokens.get(auth.token)!, req);
    }
    return notFound();
  }

  #asApp(auth: Auth, answer: () => Answer | Promise<Answer>): Answer | Promise<Answer> {
    if (auth.kind !== "app") return { status: 401, body: { message: "A JSON web token could not be decoded" } };
    return answer();
  }

  #inScope(token: string, repository: Repository): boolean {
    const record = this.tokens.get(token);
    return !record?.repositories || record.repositories.includes(`${repository.owner}/${repository.name}`.toLowerCase());
  }

  #permission(repository: Repository, login: string): string {
    return this.permissions.get(`${repository.owner}/${repository.name}:${login}`.toLowerCase()) ?? (repository.private ? "none" : "read");
  }

  async #repositoryRoute(entry: LoggedRequest, repository: Repository, token: Token, req: IncomingMessage): Promise<Answer> {
    const { method, body } = entry;
    const fullName = `${repository.owner}/${repository.name}`;
    const rest = entry.path.slice(`/repos/${repository.owner}/${repository.name}`.length) || "/";
    const route = (pattern: string) => matchRoute(method, rest, pattern);
    const needs = (permission: string, level: "read" | "write"): Answer | undefined => {
      const granted = token.permissions[permission];
      if (granted === "write" || (level === "read" && granted === "read")) return undefined;
      return { status: 403, body: { message: "Resource not accessible by integration" } };
    };
    let params: Record<string, string> | undefined;

    for (const [pattern, ms] of this.routeDelays) {
      if (route(pattern)) await new Promise((resolve) => setTimeout(resolve, ms));
    }
    if (method === "GET" && rest === "/") return ok(this.repositoryJson(repository));
    if ((params = route("GET /contents/*"))) {
      const filePath = decodeURIComponent(params["*"]!);
      const ref = entry.query.get("ref") ?? repository.defaultBranch;
      const sha = await revParse(repository.bare, `${ref}:${filePath}`);
      if (!sha || (await git(repository.bare, "cat-file", "-t", sha)).trim() !== "blob") return notFound();
      const etag = `"${sha}"`;
      if (req.headers["if-none-match"] === etag) return { status: 304, headers: { etag } };
      const content = Buffer.from(await git(repository.bare, "cat-file", "blob", sha));
      return ok({ type: "file", encoding: "base64", size: content.length, name: filePath.split("/").pop(), path: filePath, sha, content: content.toString("base64") }, { etag });
    }
    if ((params = route("GET /pulls/:number"))) {
      const pull = this.pullRequests.get(`${fullName.toLowerCase()}#${params.number}`);
      return pull ? ok(await this.pullJson(pull)) : notFound();
    }
    if ((params = route("GET /pulls/:number/files"))) {
      const pull = this.pullRequests.get(`${fullName.toLowerCase()}#${params.number}`);
      if (!pull) return notFound();
      if (!this.pullFileListing.paginate && this.pullFileListing.patchLimit === undefined) return ok(await this.#pullFiles(pull));
      return this.#pullFilesPage(pull, entry);
    }
    if ((params = route("GET /pulls/:number/comments"))) {
      const pull = this.pullRequests.get(`${fullName.toLowerCase()}#${params.number}`);
      if (!pull) return notFound();
      const comments = [];
      for (const review of this.reviews.filter((r) => r.repository === fullName.toLowerCase() && r.pull === pull.number)) {
        for (const comment of review.comments) comments.push(await this.#reviewCommentJson(pull, review, comment));
      }
      return ok(comments);
    }
    if ((params = route("GET /pulls/:number/reviews"))) {
      const number = Number(params.number);
      return ok(
        this.reviews
          .filter((r) => r.repository === fullName.toLowerCase() && r.pull === number)
          .map(({ id, body: text, user }) => ({ id, body: text, user: this.userJson(user ?? this.botLogin, (user ?? this.botLogin).endsWith("[bot]") ? "Bot" : "User"), html_url: `${this.url}/${fullName}/pull/${number}#pullrequestreview-${id}` })),
      );
    }
    if ((params = route("POST /pulls/:number/comments/:id/replies"))) {
      const denied = needs("pull_requests", "write");
      if (denied) return denied;
      const pull = this.pullRequests.get(`${fullName.toLowerCase()}#${params.number}`);
      const root = pull && this.#rootComment(fullName, pull.number, Number(params.id));
      if (!pull || !root) return notFound();
      const reply = this.addReviewReply(fullName, pull.number, root.comment.id, body?.body ?? "", this.botLogin);
      return { status: 201, body: await this.#reviewCommentJson(pull, root.review, reply) };
    }
    if ((params = route("GET /compare/:basehead"))) return this.#compare(repository, params.basehead!);
    if ((params = route("POST /pulls/:number/reviews"))) {
      const denied = needs("pull_requests", "write");
      if (denied) return denied;
      const pull = this.pullRequests.get(`${fullName.toLowerCase()}#${params.number}`);
      if (!pull) return notFound();
      const problem = reviewProblem(await this.#pullFiles(pull), body?.comments ?? []);
      if (problem) return { status: 422, body: { message: "Unprocessable Entity", errors: [problem], documentation_url: "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request" } };
      const id = this.#nextId++;
      const comments = (body?.comments ?? []).map((comment: object) => ({ ...comment, id: this.#nextId++, pull_request_review_id: id, user: this.userJson(this.botLogin, "Bot") }));
      this.reviews.push({ id, repository: fullName.toLowerCase(), pull: pull.number, body: body?.body ?? "", event: body?.event ?? "COMMENT", commit_id: body?.commit_id, comments });
      return ok({ id, body: body?.body, state: "COMMENTED", html_url: `${this.url}/${fullName}/pull/${pull.number}#pullrequestreview-${id}` });
    }
    if ((params = route("POST /pulls"))) {
      const denied = needs("pull_requests", "write");
      if (denied) return denied;
      if (!(await revParse(repository.bare, `refs/heads/${body?.head}`))) return { status: 422, body: { message: "Validation Failed", errors: [{ resource: "PullRequest", field: "head", code: "invalid" }] } };
      const pull = await this.openPullRequest(fullName, { head: body.head, base: body.base, title: body.title, body: body.body ?? "", user: this.botLogin, draft: body.draft ?? false });
      return { status: 201, body: await this.pullJson(pull) };
    }
    if ((params = route("GET /collaborators/:login/permission"))) {
      const permission = this.#permission(repository, params.login!);
      return ok({ permission: permission === "maintain" ? "write" : permission, role_name: permission, user: this.userJson(params.login!) });
    }
    if ((params = route("POST /issues/:number/comments"))) {
      // GitHub takes a comment on a pull request with either permission.
      const onPull = this.pullRequests.has(`${fullName.toLowerCase()}#${params.number}`);
      const denied = needs("issues", "write");
      if (denied && (!onPull || needs("pull_requests", "write"))) return denied;
      const fails = this.commentFaults.failNext > 0;
      if (fails) this.commentFaults.failNext--;
      if (fails && !this.commentFaults.applyFailed) return { status: 502, body: { message: "Server Error" } };
      const id = this.#nextId++;
      this.comments.push({ id, repository: fullName.toLowerCase(), issue: Number(params.number), body: body?.body ?? "", user: this.botLogin });
      if (fails) return { status: 502, body: { message: "Server Error" } };
      return { status: 201, body: { id, body: body?.body, html_url: `${this.url}/${fullName}/issues/${params.number}#issuecomment-${id}` } };
    }
    if ((params = route("PATCH /issues/comments/:id"))) {
      const comment = this.comments.find((c) => c.repository === fullName.toLowerCase() && c.id === Number(params!.id));
      if (!comment) return { status: 404, body: { message: "Not Found" } };
      const onPull = this.pullRequests.has(`${fullName.toLowerCase()}#${comment.issue}`);
      const denied = needs("issues", "write");
      if (denied && (!onPull || needs("pull_requests", "write"))) return denied;
      // GitHub lets an app edit only its own comments.
      if (comment.user !== this.botLogin) return { status: 403, body: { message: "Resource not accessible by integration" } };
      comment.body = body?.body ?? comment.body;
      this.commentEdits.push({ id: comment.id, repository: comment.repository, body: comment.body });
      return ok({ id: comment.id, body: comment.body, html_url: `${this.url}/${fullName}/issues/${comment.issue}#issuecomment-${comment.id}` });
    }
    if ((params = route("GET /issues/:number/comments"))) {
      const number = Number(params.number);
      return ok(this.comments.filter((c) => c.repository === fullName.toLowerCase() && c.issue === number).map((c) => ({ id: c.id, body: c.body, user: this.userJson(c.user), created_at: "2026-01-01T00:00:00Z" })));
    }
    const issueAnswer = await this.#issueRoute(route, needs, repository, entry);
    if (issueAnswer) return issueAnswer;
    if ((params = route("GET /issues/comments/:id/reactions"))) {
      const commentId = Number(params.id);
      const content = entry.query.get("content");
      const found = this.reactions.filter((r) => r.repository === fullName.toLowerCase() && r.commentId === commentId && (!content || r.content === content));
      return ok(found.map((r) => ({ id: commentId, content: r.content, user: this.userJson(r.user ?? this.botLogin, "Bot") })));
    }
    if ((params = route("POST /issues/comments/:id/reactions"))) {
      this.reactions.push({ repository: fullName.toLowerCase(), commentId: Number(params.id), content: body?.content, user: this.botLogin });
      return { status: 201, body: { id: this.#nextId++, content: body?.content } };
    }
    if ((params = route("GET /commits/:ref/check-runs"))) {
      const ref = params.ref!;
      const found = this.checkRuns.filter((c) => c.repository === fullName.toLowerCase() && c.head_sha === ref && (!entry.query.get("check_name") || c.name === entry.query.get("check_name")));
      return ok({ total_count: found.length, check_runs: found.map(({ history, repository: _, ...check }) => check) });
    }
    const faulty = route("POST /check-runs") || route("PATCH /check-runs/:id") ? this.#checkRunFault() : undefined;
    if (faulty) {
      await faulty.delay;
      if (faulty.fail && !this.checkRunFaults.applyFailed) return { status: 502, body: { message: "Server Error" } };
    }
    const answer = await this.#checkRunWrite(route, needs, fullName, body);
    if (faulty?.fail) return { status: 502, body: { message: "Server Error" } };
    return answer;
  }

  /** The issue endpoints of a repository; undefined when the request is none of them. */
  async #issueRoute(route: (pattern: string) => Record<string, string> | undefined, needs: (permission: string, level: "read" | "write") => Answer | undefined, repository: Repository, entry: LoggedRequest): Promise<Answer | undefined> {
    const fullName = `${repository.owner}/${repository.name}`;
    const body = entry.body;
    // GitHub takes the issues permission, or for a pull request's number also the pull_requests one.
    const allowed = (pull: boolean, level: "read" | "write") => {
      const denied = needs("issues", level);
      return denied && (!pull || needs("pull_requests", level)) ? denied : undefined;
    };
    const found = (number: string) => this.#issueOrPull(fullName, Number(number));
    const touch = (issue: Issue) => (issue.updated_at = new Date().toISOString());
    let params: Record<string, string> | undefined;
    if ((params = route("GET /issues"))) {
      const denied = needs("issues", "read");
      if (denied) return denied;
      const state = entry.query.get("state") ?? "open";
      const labels = (entry.query.get("labels") ?? "").split(",").filter(Boolean);
      const all = [...this.issues.values(), ...[...this.pullRequests.values()].map((pull) => this.#pullAsIssue(pull))].filter((issue) => issue.repository === fullName.toLowerCase());
      const chosen = all.filter((issue) => (state === "all" || issue.state === state) && labels.every((label) => issue.labels.includes(label)));
      return ok(chosen.sort((a, b) => b.number - a.number).slice(0, Number(entry.query.get("per_page") ?? 30)).map((issue) => this.#issueItem(issue)));
    }
    if ((params = route("POST /issues"))) {
      const denied = needs("issues", "write");
      if (denied) return denied;
      if (typeof body?.title !== "string" || !body.title) return { status: 422, body: { message: "Validation Failed", errors: [{ resource: "Issue", field: "title", code: "missing_field" }] } };
      const issue = this.addIssue(fullName, { title: body.title, body: body.body ?? "", user: this.botLogin, labels: body.labels ?? [], assignees: body.assignees ?? [] });
      return { status: 201, body: this.issueJson(issue) };
    }
    if ((params = route("GET /issues/:number"))) {
      const target = found(params.number!);
      if (!target) return notFound();
      const denied = allowed(target.pull, "read");
      if (denied) return denied;
      return ok(this.#issueItem(target.issue));
    }
    if ((params = route("PATCH /issues/:number"))) {
      const target = found(params.number!);
      if (!target) return notFound();
      const denied = allowed(target.pull, "write");
      if (denied) return denied;
      if (target.pull) {
        const pull = this.pullRequests.get(`${fullName.toLowerCase()}#${target.issue.number}`)!;
        if (body?.state) pull.state = body.state;
        return ok(this.#issueItem(this.#pullAsIssue(pull)));
      }
      const issue = target.issue;
      if (body?.title !== undefined) issue.title = body.title;
      if (body?.body !== undefined) issue.body = body.body;
      if (body?.state === "closed") {
        issue.state = "closed";
        issue.state_reason = body.state_reason ?? "completed";
      } else if (body?.state === "open") {
        issue.state = "open";
        issue.state_reason = "reopened";
      }
      touch(issue);
      return ok(this.issueJson(issue));
    }
    if ((params = route("POST /issues/:number/labels"))) {
      const target = found(params.number!);
      if (!target) return notFound();
      const denied = allowed(target.pull, "write");
      if (denied) return denied;
      const labels: string[] = Array.isArray(body) ? body : (body?.labels ?? []);
      for (const label of labels) if (!target.issue.labels.includes(label)) target.issue.labels.push(label);
      touch(target.issue);
      return ok(this.issueJson(target.issue).labels);
    }
    if ((params = route("DELETE /issues/:number/labels/:name"))) {
      const target = found(params.number!);
      if (!target) return notFound();
      const denied = allowed(target.pull, "write");
      if (denied) return denied;
      const at = target.issue.labels.indexOf(params.name!);
      if (at < 0) return { status: 404, body: { message: "Label does not exist", documentation_url: "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue" } };
      target.issue.labels.splice(at, 1);
      touch(target.issue);
      return ok(this.issueJson(target.issue).labels);
    }
    if ((params = route("POST /issues/:number/assignees"))) {
      const target = found(params.number!);
      if (!target) return notFound();
      const denied = allowed(target.pull, "write");
      if (denied) return denied;
      // GitHub leaves out, without an error, whoever cannot be assigned in the repository.
      const assignable = (login: string) => ["admin", "maintain", "write", "triage"].includes(this.#permission(repository, login));
      for (const login of (body?.assignees ?? []) as string[]) if (assignable(login) && !target.issue.assignees.includes(login)) target.issue.assignees.push(login);
      touch(target.issue);
      return { status: 201, body: this.issueJson(target.issue) };
    }
    return undefined;
  }

  /** An issue or a pull request, as the issue endpoints and search show it. */
  #issueItem(issue: Issue): Partial<Schemas["issue"]> {
    const json = this.issueJson(issue);
    const pull = this.pullRequests.has(`${issue.repository}#${issue.number}`);
    if (!pull) return json;
    return { ...json, html_url: json.html_url!.replace("/issues/", "/pull/"), pull_request: { url: `${json.repository_url}/pulls/${issue.number}`, html_url: json.html_url!.replace("/issues/", "/pull/"), diff_url: null, patch_url: null } };
  }

  /**
   * GitHub's issue search, for the qualifiers the tools use: repo: (several widen the search),
   * org: and user:, is:issue|pr|open|closed, state:, label: (all must match), no:label and
   * no:assignee, and words (all must appear in the title or body). Only what the token may see: its repositories, and public ones.
   */
  #searchIssues(q: string, token: string, perPage: number): { total_count: number; incomplete_results: boolean; items: unknown[] } {
    const terms = [...q.matchAll(/(-?)([a-z_]+):("[^"]*"|\S+)|"([^"]*)"|(\S+)/gi)];
    const repos: string[] = [];
    const owners: string[] = [];
    const labels: string[] = [];
    const words: string[] = [];
    const missing: string[] = [];
    let kind: "issue" | "pr" | undefined;
    let state: string | undefined;
    for (const [, , key, rawValue, phrase, word] of terms) {
      const value = (rawValue ?? "").replace(/^"|"$/g, "");
      switch (key?.toLowerCase()) {
        case undefined:
          words.push((phrase ?? word ?? "").toLowerCase());
          break;
        case "repo":
          repos.push(value.toLowerCase());
          break;
        case "org":
        case "user":
          owners.push(value.toLowerCase());
          break;
        case "is":
          if (value === "issue" || value === "pr") kind = value;
          else if (value === "open" || value === "closed") state = value;
          break;
        case "state":
          state = value;
          break;
        case "label":
          labels.push(value);
          break;
        case "no":
          missing.push(value.toLowerCase());
          break;
        default:
          break;
      }
    }
    const visible = (name: string) => {
      const repository = this.#repositories.get(name);
      if (!repository) return false;
      const record = this.tokens.get(token)!;
      return !repository.private || (repository.installationId === record.installationId && this.#inScope(token, repository));
    };
    const all = [...this.issues.values(), ...[...this.pullRequests.values()].map((pull) => this.#pullAsIssue(pull))];
    const matches = all.filter((issue) => {
      if (!visible(issue.repository)) return false;
      const inRepo = repos.length === 0 || repos.includes(issue.repository);
      const inOwner = owners.length === 0 || owners.includes(issue.repository.split("/")[0]!);
      // repo:, org: and user: each widen the search: an issue in any one of them matches.
      if (repos.length > 0 && owners.length > 0 ? !(inRepo || inOwner) : !(inRepo && inOwner)) return false;
      const pull = this.pullRequests.has(`${issue.repository}#${issue.number}`);
      if (kind === "issue" && pull) return false;
      if (kind === "pr" && !pull) return false;
      if (state && issue.state !== state) return false;
      if (!labels.every((label) => issue.labels.includes(label))) return false;
      if (missing.includes("label") && issue.labels.length > 0) return false;
      if (missing.includes("assignee") && issue.assignees.length > 0) return false;
      const text = `${issue.title}\n${issue.body}`.toLowerCase();
      return words.every((word) => text.includes(word));
    });
    matches.sort((a, b) => b.updated_at.localeCompare(a.updated_at) || b.number - a.number);
    return { total_count: matches.length, incomplete_results: false, items: matches.slice(0, perPage).map((issue) => ({ ...this.#issueItem(issue), score: 1 })) };
  }

  #checkRunFault(): { delay: Promise<void>; fail: boolean } | undefined {
    const { delayMs, failEvery } = this.checkRunFaults;
    if (delayMs === 0 && failEvery === 0) return undefined;
    const count = ++this.#checkRunWrites;
    return { delay: new Promise((resolve) => setTimeout(resolve, delayMs)), fail: failEvery > 0 && count % failEvery === 0 };
  }

  async #checkRunWrite(route: (pattern: string) => Record<string, string> | undefined, needs: (permission: string, level: "read" | "write") => Answer | undefined, fullName: string, body: any): Promise<Answer> {
    let params: Record<string, string> | undefined;
    if ((params = route("POST /check-runs"))) {
      const denied = needs("checks", "write");
      if (denied) return denied;
      const check: CheckRun = { id: this.#nextId++, repository: fullName.toLowerCase(), history: [], ...body };
      check.history.push({ status: check.status ?? "queued", conclusion: check.conclusion ?? null, ...(check.output?.title ? { title: check.output.title } : {}) });
      this.checkRuns.push(check);
      return { status: 201, body: { id: check.id, name: check.name, head_sha: check.head_sha, status: check.status, conclusion: check.conclusion ?? null } };
    }
    if ((params = route("PATCH /check-runs/:id"))) {
      const denied = needs("checks", "write");
      if (denied) return denied;
      const check = this.checkRuns.find((c) => c.id === Number(params!.id));
      if (!check) return notFound();
      Object.assign(check, body);
      check.history.push({ status: check.status, conclusion: check.conclusion ?? null, ...(body?.output?.title ? { title: body.output.title } : {}) });
      return ok({ id: check.id, status: check.status, conclusion: check.conclusion ?? null });
    }
    return notFound();
  }

  // ---------------------------------------------------------------- git smart HTTP

  #git(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const [, owner = "", repoGit = ""] = url.pathname.split("/");
    const repository = this.#repositories.get(`${owner}/${repoGit.replace(/\.git$/, "")}`.toLowerCase());
    const [scheme, encoded = ""] = (req.headers.authorization ?? "").split(" ");
    const [, token = ""] = scheme === "Basic" ? Buffer.from(encoded, "base64").toString("utf8").split(":") : [];
    const auth = token ? this.#tokenAuth(token) : ({ kind: "none" } as Auth);
    const entry: LoggedRequest = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, auth, body: undefined };
    this.requests.push(entry);
    const refuse = (status: number, text: string) => {
      entry.status = status;
      res.writeHead(status, status === 401 ? { "www-authenticate": 'Basic realm="GitHub"' } : {}).end(text);
    };
    if (!repository) return refuse(404, "Repository not found.");
    if (auth.kind !== "installation" || auth.installationId !== repository.installationId || !this.#inScope(auth.token, repository)) {
      return refuse(401, auth.kind === "invalid" ? `Invalid username or password (${auth.why}).` : "Authentication required.");
    }
    const pushing = url.pathname.endsWith("/git-receive-pack") || url.searchParams.get("service") === "git-receive-pack";
    if (pushing && this.tokens.get(auth.token)!.permissions.contents !== "write") return refuse(403, "Permission to push denied.");
    entry.status = 200;
    const push: Push | undefined = url.pathname.endsWith("/git-receive-pack") ? { repository: `${owner}/${repository.name}`.toLowerCase(), token: auth.token, updates: [], bytes: 0 } : undefined;
    if (push) this.pushes.push(push);
    let head = Buffer.alloc(0);
    req.on("data", (chunk: Buffer) => {
      if (!push) return;
      push.bytes += chunk.length;
      if (head.length < 64 * 1024) head = Buffer.concat([head, chunk]);
    });
    req.on("end", () => {
      if (push) push.updates = parseCommands(head);
    });
    gitHttpBackend(req, res, this.#root, {
      onStatus: (status) => {
        entry.status = status;
        if (push) push.status = status;
      },
    });
  }
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  redirect?: string;
}

const ok = (body: unknown, headers: Record<string, string> = {}): Answer => ({ status: 200, body, headers });
const notFound = (): Answer => ({ status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } });
const unauthorized = (): Answer => ({ status: 401, body: { message: "Requires authentication" } });

/** `GET /repos/:owner/:repo/*`-style patterns; a pattern without a method matches any method. */
function matchRoute(method: string, path: string, pattern: string): Record<string, string> | undefined {
  const [first = "", second] = pattern.split(" ");
  const [wantMethod, wantPath] = second === undefined ? [undefined, first] : [first, second];
  if (wantMethod && wantMethod !== method) return undefined;
  const names: string[] = [];
  const regex = new RegExp(
    `^${wantPath
      .split("/")
      .map((part) => {
        if (part === "*") return names.push("*"), "(.+)";
        if (part.startsWith(":")) return names.push(part.slice(1)), "([^/]+)";
        return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("/")}/?$`,
  );
  const match = regex.exec(path);
  if (!match) return undefined;
  return Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]));
}

/** The pkt-line commands at the start of a receive-pack request: "<old> <new> <ref>". */
function parseCommands(body: Buffer): Push["updates"] {
  const updates: Push["updates"] = [];
  let at = 0;
  while (at + 4 <= body.length) {
    const length = Number.parseInt(body.subarray(at, at + 4).toString(), 16);
    if (!length) break;
    const line = body.subarray(at + 4, at + length).toString("utf8").split("\0")[0]!.trim();
    const [old = "", next = "", ref = ""] = line.split(" ");
    updates.push({ old, new: next, ref });
    at += length;
  }
  return updates;
}

/** Why GitHub would refuse a review's comments (422), as it says it; undefined when it takes them. */
export function reviewProblem(files: Array<Partial<Schemas["diff-entry"]>>, comments: Array<{ path: string; line?: number; side?: string; start_line?: number; start_side?: string }>): string | undefined {
  const hunks = new Map<string, number>();
  for (const { filename, patch } of files) {
    if (!patch) continue;
    let left = 0;
    let right = 0;
    let hunk = -1;
    for (const line of patch.split("\n")) {
      const header = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
      if (header) {
        left = Number(header[1]);
        right = Number(header[2]);
        hunk += 1;
        continue;
      }
      if (line.startsWith("+")) hunks.set(`${filename}:RIGHT:${right++}`, hunk);
      else if (line.startsWith("-")) hunks.set(`${filename}:LEFT:${left++}`, hunk);
      else {
        hunks.set(`${filename}:RIGHT:${right++}`, hunk);
        hunks.set(`${filename}:LEFT:${left++}`, hunk);
      }
    }
  }
  for (const comment of comments) {
    const end = hunks.get(`${comment.path}:${comment.side ?? "RIGHT"}:${comment.line}`);
    if (end === undefined) return "Line could not be resolved";
    if (comment.start_line !== undefined) {
      const start = hunks.get(`${comment.path}:${comment.start_side ?? comment.side ?? "RIGHT"}:${comment.start_line}`);
      if (start === undefined) return "Start line could not be resolved";
      if (start !== end) return "start_line must be part of the same hunk as the line.";
    }
  }
  return undefined;
}
