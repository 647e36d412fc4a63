// The `repository` input of the tools that push: which of the run's repositories they act on.
import { z } from "zod";

export const REPOSITORY_INPUT = z
  .string()
  .optional()
  .describe("The repository to act on, as owner/name: another of the run's repositories that shares write access with this one. Default: this repository.");
