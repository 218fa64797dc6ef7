// The contract between the engine and every source of secrets (sops, age, 1Password, Bitwarden).
// A provider receives all of its requests at once, so it can batch (one decrypt per file, one
// resolveAll per client), and answers each request separately, so one failure never hides the rest.
import type { ProviderError } from '../errors.js';
import type { Logger } from '../log.js';
import type { KeyRing } from '../keys/index.js';
import type { Schema } from '../config/validate.js';

/** One deduplicated fetch: the same source asked for by one or more secrets. */
export interface SecretRequest<Source = unknown> {
  /** Stable id, unique within one fetch call. */
  readonly id: string;
  /** The secrets (by name) this request serves; for messages only. */
  readonly secrets: readonly string[];
  readonly source: Source;
}

export type FetchOutcome = { ok: Buffer } | { error: ProviderError };

/** Key settings from secrets.json `keys`. */
export interface KeySettings {
  ageKeyFiles: string[];
  sshKeyPaths: string[];
  gnupgHome: string | null;
  /**
   * Age identities given as text rather than files (`SOPS_AGE_KEY` of a person running `get`/`run`);
   * never set from secrets.json. `name` says where the text came from, for messages.
   */
  ageKeyTexts?: { name: string; text: string }[];
  /** RSA SSH private keys used as PGP keys (sops-nix's gnupg.sshKeyPaths). */
  gnupgSshKeyPaths?: string[];
}

export interface ProviderContext {
  /** This provider's block from secrets.json `providers` (validated by its `settings` schema). */
  readonly settings: unknown;
  readonly keys: KeySettings;
  readonly log: Logger;
  /** Aborted when the run's deadline passes or the run is interrupted. */
  readonly signal: AbortSignal;
  /** The run's identities (age keys, SSH host keys), loaded once and shared by every provider. */
  keyRing(): Promise<KeyRing>;
  /**
   * Records one call the provider makes to its service (or one start of its client program), by
   * what it is (`resolveAll`, `login`, `bw list`): every network call is counted, and the run
   * reports the counts. Call it before the call is made.
   */
  countCall(what: string): void;
  /**
   * Says that the call just counted under `what` never reached the service (no connection could be
   * made: the network is down, the name does not resolve). It stays in the run's counts, but is
   * given back to the call budget, which guards the service's quota: a boot that waits for the
   * network, retrying every 30 s, does not spend the budget it will need once the network is up.
   * Never for a call that may have reached the service (a timeout, a server error).
   */
  notSent?(what: string): void;
  /**
   * True when a person asked at the prompt (`materialize get`/`run`): the run uses that person's own
   * credentials and writes nothing. Absent for `apply` (a boot or switch run). A provider may, for
   * example, allow a client that needs a person's session only then, or word its errors for them.
   */
  readonly interactive?: boolean;
}

/** A problem `materialize check` finds without decrypting or contacting anything. */
export interface CheckProblem {
  /** The request concerned (its id), so the problem is reported at that source's JSON path. */
  requestId: string;
  /** The secret names concerned. */
  secrets: readonly string[];
  /** The JSON path of the source field concerned, relative to the source object (e.g. `file`). */
  field: string;
  message: string;
}

export interface Provider<Source = unknown> {
  /** Fetch every request; the map must hold an outcome for each request id. */
  fetch(requests: readonly SecretRequest<Source>[], context: ProviderContext): Promise<Map<string, FetchOutcome>>;
  /** Build-time validation: referenced files exist and parse, referenced keys exist. No decryption, no network. */
  check?(requests: readonly SecretRequest<Source>[], context: Omit<ProviderContext, 'keyRing' | 'countCall'>): Promise<CheckProblem[]>;
}

/**
 * What the engine knows about a provider without loading it: the light part (schemas, descriptions)
 * is imported eagerly; the implementation, and the heavy library behind it, only when a run uses it.
 */
export interface ProviderDefinition<Source = unknown> {
  readonly name: string;
  /** Schema of the object under `{"<name>": {...}}` in a secret's `sources`. */
  readonly source: Schema<Source>;
  /** Schema of `providers.<name>` in secrets.json. */
  readonly settings?: Schema<unknown>;
  /** Resolve relative file names against the config file's directory, and similar normalizations. */
  normalize?(source: Source, baseDir: string): Source;
  /**
   * Rules that span sources (one sops file read in one format): every normalized source of this
   * provider, in the configuration's order, with its JSON path; returns problems at those paths.
   */
  checkAll?(sources: readonly { source: Source; at: string }[]): { at: string; message: string }[];
  /** Whether it decrypts with the host's keys (then `check` verifies a usable key exists). */
  readonly usesKeys?: boolean;
  /** Whether it needs the network (1Password, Bitwarden): such sources are counted, and the unit waits for the network. */
  readonly network?: boolean;
  /**
   * For a network provider: the credential its calls are charged to, described without any secret
   * (`token file /var/lib/materialize/op-token`). The call budget keeps one account per credential.
   */
  credential?(settings: unknown): string;
  /** A short, value-free description for reports: `age /nix/store/…-db.age`. */
  describe(source: Source): string;
  /** Loads the implementation. `lib` injects the heavy library (tests pass a fake). */
  load(options?: { lib?: unknown }): Promise<Provider<Source>>;
}
