import { scrubTokenShapes } from "../util/redact.js";

const MAX_SHOWN = 60;

/**
 * Show a configuration value in an error message: quoted, control characters escaped, clipped to
 * 60 characters, and anything shaped like a GitHub token replaced. Configuration holds no secret
 * itself (the token is a file path), so no registry of secrets is needed here.
 */
export function showValue(raw: string): string {
  const clipped = raw.length > MAX_SHOWN ? `${raw.slice(0, MAX_SHOWN)}…(${raw.length} chars)` : raw;
  return scrubTokenShapes(JSON.stringify(clipped));
}
