// Where a run is shown: its page in the dashboard.
export const runUrl = (publicUrl: string, runId: string) => `${publicUrl}/dashboard/runs/${runId}`;
