/**
 * Label matching as GitHub does it: a runner can take a job when every one of the job's
 * `runs-on` labels is among the runner's labels, compared case-insensitively.
 */

/** GitHub caps a label at 256 characters (runner Validators.LabelsValidator). */
export const MAX_LABEL_LENGTH = 256;
/** generate-jitconfig accepts at most 100 labels. */
export const MAX_LABELS = 100;

export function foldLabel(label: string): string {
  return label.trim().toLowerCase();
}

/**
 * Split a comma-separated label list: trims, drops empty items, de-duplicates
 * case-insensitively (first spelling wins). Returns an error message string when the list
 * cannot be used.
 */
export function normalizeLabels(raw: string): string[] | string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const item of raw.split(",")) {
    const label = item.trim();
    if (!label) continue;
    if (label.length > MAX_LABEL_LENGTH) return `has a label longer than ${MAX_LABEL_LENGTH} characters`;
    // Control characters (newlines included) have no place in a label.
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(label)) return "has a label with a control character";
    const key = foldLabel(label);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(label);
  }
  if (out.length === 0) return "has no labels";
  if (out.length > MAX_LABELS) return `has more than ${MAX_LABELS} labels`;
  return out;
}

/** A set of runner labels, folded once, for fast subset checks. */
export class LabelMatcher {
  readonly #folded: ReadonlySet<string>;

  constructor(runnerLabels: readonly string[]) {
    this.#folded = new Set(runnerLabels.map(foldLabel));
  }

  /** True when the job's labels are a non-empty subset of ours. */
  matches(jobLabels: readonly string[]): boolean {
    if (jobLabels.length === 0) return false;
    return jobLabels.every((l) => this.#folded.has(foldLabel(l)));
  }
}

export function labelsMatch(jobLabels: readonly string[], runnerLabels: readonly string[]): boolean {
  return new LabelMatcher(runnerLabels).matches(jobLabels);
}
