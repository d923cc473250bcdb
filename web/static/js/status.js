// Run statuses, one list for every page. A run goes queued → running →
// succeeded | failed | stopped | interrupted | error (docs/architecture.md,
// A run); game-day runs use the same words.

/** ACTIVE are the statuses of a run that has not ended yet. */
export const ACTIVE = new Set(["queued", "running"]);

/** ENDED are the server's terminal statuses: a run that ended, whichever way. */
export const ENDED = new Set(["succeeded", "failed", "stopped", "interrupted", "error"]);

/**
 * REPORTED are the ended statuses whose runs the pages read reports of and
 * offer to compare; interrupted and error runs are left out.
 */
export const REPORTED = new Set(["succeeded", "failed", "stopped"]);

/**
 * VERDICTS are a report's verdicts: pass, fail, inconclusive (no check
 * failed but some could not be graded) and none (no hypothesis, or the run
 * did not finish).
 */
export const VERDICTS = new Set(["pass", "fail", "inconclusive", "none"]);

/** VERDICT_LABELS are the words the badges say for each verdict. */
export const VERDICT_LABELS = { pass: "pass", fail: "fail", inconclusive: "inconclusive", none: "no verdict" };
