/**
 * The ports the controller core talks through. Adapters implement them; tests substitute them.
 */
import type { BackendKind } from "./config.js";
import type { Subnet } from "./domain/subnets.js";
import type { BackendState, GitHubView, ObservedRunner } from "./domain/types.js";

/** Where runners are registered and jobs are looked for: one repository, or an organization. */
export type GitHubScope =
  | { readonly kind: "repo"; readonly owner: string; readonly repo: string }
  | { readonly kind: "org"; readonly org: string };

/** What authenticates requests to GitHub: a token file, or a GitHub App's installation tokens. */
export interface TokenSource {
  /** The token to send now (an installation token is refreshed before it expires). */
  get(): Promise<string>;
  /**
   * The last token was refused (401): forget it so the next get() fetches a new one. `token`: the
   * refused one — a token already replaced (another request saw the 401 first) is not refetched.
   */
  invalidate?(token?: string): void;
  /** "token" | "app" — for /health and logs. */
  readonly kind: "token" | "app";
}

export type DeleteOutcome = "deleted" | "gone" | "busy";

export interface GitHubHealth {
  /** Last time a request to GitHub succeeded (ms epoch), or null. */
  readonly lastSuccessAt: number | null;
  /** Last failure, as a code and a safe message. */
  readonly lastError: { readonly code: string; readonly message: string; readonly at: number } | null;
  readonly consecutiveFailures: number;
  /** GitHub rejected the token (401) on the last attempt. */
  readonly unauthorized: boolean;
  /** No request is sent before this time (rate limit), or null. */
  readonly blockedUntil: number | null;
  readonly rateLimit: { readonly remaining: number; readonly limit: number; readonly reset: number } | null;
}

export interface GitHubStats {
  readonly requests: number;
  readonly notModified: number;
  readonly errors: number;
  /** Responses kept for conditional requests. */
  readonly cached: number;
}

export interface GitHubPort {
  /**
   * Queued and running jobs of every run that can hold a queued job in `repos` (`owner/name`; in
   * repository scope always exactly the one repository), plus the scope's runners.
   */
  observe(repos: readonly string[]): Promise<GitHubView>;
  /**
   * Organization scope: every repository of the organization (`owner/name`) that the runner group
   * serves, a conditional listing; `groupLimited` when the group serves selected repositories
   * only, so that these are all it serves. Repository scope: [owner/repo], no request.
   */
  listRepositories(): Promise<{ repositories: string[]; requests: number; groupLimited: boolean }>;
  /** The scope's runner registrations (the repository's or the organization's). */
  listRunners(): Promise<ObservedRunner[]>;
  /** Register a JIT runner; returns its id and the single-use config (a secret). */
  createJitRunner(
    name: string,
    labels: readonly string[],
  ): Promise<{ runnerId: number; encodedJitConfig: string }>;
  /** A registration token for `config.sh --token` (fallback mode). */
  createRegistrationToken(): Promise<{ token: string; expiresAt: string }>;
  /** Delete a registration. 404 counts as done; 422 (still running a job) is reported as busy. */
  deleteRunner(ref: { runnerId: number | null; runnerName: string }): Promise<DeleteOutcome>;
  /** The web URL runners register against (for token mode). */
  readonly registrationUrl: string;
  health(): GitHubHealth;
  stats(): GitHubStats;
}

/** What a runner needs to register: a JIT config, or a registration token plus its settings. */
export type RunnerSecret =
  | { readonly kind: "jit"; readonly encodedJitConfig: string }
  | {
      readonly kind: "token";
      readonly token: string;
      readonly url: string;
      readonly runnerName: string;
      readonly labels: readonly string[];
    };

export interface CreateSpec {
  readonly name: string;
  readonly runnerName: string;
  readonly labels: readonly string[];
  readonly subnet: Subnet;
  readonly secret: RunnerSecret;
}

/** What a container used over its life, as far as the backend can tell (null: unknown). */
export interface ContainerUsage {
  readonly cpuSeconds: number | null;
  readonly peakMemoryBytes: number | null;
}

export interface Backend {
  readonly kind: BackendKind;
  /** Create and start the container; resolves once it runs. Cleans up after itself when it fails. */
  create(spec: CreateSpec, signal: AbortSignal): Promise<void>;
  /** Our containers only (never anyone else's), running or stopped. */
  list(): Promise<Map<string, BackendState>>;
  /** What the container used so far (read just before it is destroyed); null when unknown. */
  usage?(name: string): Promise<ContainerUsage | null>;
  /** Stop and remove the container and everything it left behind. Idempotent; a missing container is success. */
  destroy(name: string): Promise<void>;
  /** Called when a container's runner starts its job, when the backend can tell (a pool runner is replaced at once). */
  onJobStarted?(listener: (name: string) => void): void;
  /** Called when a container stops, when the backend can tell (lets the loop react at once). */
  onStopped(listener: (name: string) => void): void;
  /** Stop watching. Containers keep running. */
  close(): Promise<void>;
}
