// The `repository` input of the GitHub tools: which of the run's repositories they act on.
import { z } from "zod";

const OWNER_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** For tools that push or post: the own repository, or one shared for writing. */
export const REPOSITORY_INPUT = z
  .string()
  .regex(OWNER_NAME, { error: 'must be "owner/name"' })
  .optional()
  .describe("The repository to act on, as owner/name: another of the run's repositories that shares write access with this one. Default: this repository.");

/** For tools that read: any of the run's repositories. */
export const READ_REPOSITORY_INPUT = z
  .string()
  .regex(OWNER_NAME, { error: 'must be "owner/name"' })
  .optional()
  .describe("The repository to read, as owner/name: any of the run's repositories. Default: this repository.");
