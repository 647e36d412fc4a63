import { z } from "zod";
import { defineTool } from "../define-tool.js";

export const OUTCOME_TOOL = "report_outcome";

export const OutcomeInput = z.object({
  outcome: z.enum(["succeeded", "failed"]).describe("Whether the task was done."),
  summary: z.string().min(1).describe("What was done and found, for the people reading the run: a few sentences or a short list."),
});

export const reportOutcome = defineTool({
  name: OUTCOME_TOOL,
  description: "Report that the task is finished, whether it succeeded, and a summary. Call it exactly once, as the last step; the session ends after it.",
  input: OutcomeInput,
  async execute({ outcome }) {
    return `Recorded: ${outcome}. The session ends now.`;
  },
});
