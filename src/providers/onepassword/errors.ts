// Turning what the 1Password SDK throws or answers into our ProviderErrors, in one place. The kind
// decides everything downstream: `rate-limited` (exit 69, never retried), `unavailable` (exit 75,
// retried a bounded number of times), the rest (exit 65, never retried). Messages name the
// reference or the call, never a value or the token.
import type { ResolveReferenceError } from '@1password/sdk';
import { ProviderError, type ProviderErrorKind } from '../../errors.js';
import { DeadlineError, formatSeconds } from '../network.js';

export const NAME = 'onepassword';

export const fail = (kind: ProviderErrorKind, message: string, cause?: unknown, notSent = false): ProviderError => new ProviderError(NAME, kind, message, { ...(cause === undefined ? {} : { cause }), notSent });

/** A message from the SDK made safe to print: one line, bounded, the token (if it were ever quoted) cut out. */
export function sanitize(message: string, secrets: readonly string[] = []): string {
  let text = message;
  for (const s of secrets) if (s.length >= 4) text = text.split(s).join('[token]');
  // Any other service account token the SDK could echo.
  text = text.replace(/ops_[A-Za-z0-9_\-=.]{8,}/g, '[token]');
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') {
    // The core's own errors are JSON strings {"name", "message"} when they escape unwrapped.
    try {
      const parsed = JSON.parse(error) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // a plain string
    }
    return error;
  }
  return String(error);
}

export interface ThrownContext {
  /** The call, as the report names it (`createClient`, `resolveAll`…). */
  call: string;
  /** The call's deadline in seconds (for the "did not answer" message). */
  seconds: number;
  /** The exported class resolveAll and the item calls throw when rate-limited. */
  RateLimitExceededError: abstract new (...args: never[]) => Error;
  /** Strings never to print (the token). */
  secrets: readonly string[];
  /**
   * Whether the call's requests all failed before a connection was made (the fetch guard's count),
   * so 1Password saw nothing and charged no quota. The SDK's message cannot say: it is the same for
   * a refused connection and for one reset after the request was read, which stays charged.
   */
  neverSent: boolean;
}

const RATE_LIMIT_ADVICE =
  'not retried: every attempt counts against the service account\'s hourly and the account\'s daily limit (exit 69 stops the unit from restarting); run again after the limit resets';

// Why class and message both: resolveAll throws the exported RateLimitExceededError, but sign-in
// (HTTP 429 at createClient) throws a plain Error "authentication error: rate limit exceeded".
/** Classifies a failure thrown for a whole call (sign-in, resolveAll, a file look-up). */
export function classifyThrown(error: unknown, context: ThrownContext): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof DeadlineError) {
    return error.message.includes("run's deadline")
      ? fail('unavailable', `1Password: the run's deadline (--timeout) passed during ${context.call}`, error)
      : fail('unavailable', `1Password did not answer in ${formatSeconds(context.seconds * 1000)} (${context.call}); the network or 1Password's servers may be down`, error);
  }
  const message = sanitize(messageOf(error), context.secrets);
  if (error instanceof context.RateLimitExceededError || /rate limit exceeded/i.test(message)) {
    return fail('rate-limited', `1Password rate limit exceeded (${context.call}): ${RATE_LIMIT_ADVICE}`, error);
  }
  // "request library compatibility issue" is what the SDK says when the network is down.
  if (/request library/i.test(message) || /error sending request|fetch failed|network|connect|timed? ?out|dns|ECONN|ENOTFOUND|EAI_AGAIN|socket/i.test(message)) {
    return fail('unavailable', `1Password could not be reached (${context.call}): ${message}`, error, context.neverSent);
  }
  if (/service account token|token had invalid format/i.test(message)) {
    return fail('unauthorized', `the service account token is not valid (${context.call}): ${message}; check the token file`, error);
  }
  if (/not authenticated|unauthori[sz]ed|forbidden|expired|authentication error/i.test(message) || (error as Error)?.constructor?.name === 'AuthExpiredError') {
    return fail('unauthorized', `1Password did not accept the service account token (${context.call}): ${message}`, error);
  }
  if (/invalid user input/i.test(message)) return fail('config', `1Password refused the request as invalid (${context.call}): ${message}`, error);
  // Anything else is most likely the server or the network: a later attempt may work.
  return fail('unavailable', `1Password failed (${context.call}): ${message}`, error);
}

/** What each per-reference error type means, and whether the reference or the vault is at fault. */
const REFERENCE_ERRORS: Record<ResolveReferenceError['type'], { kind: ProviderErrorKind; text: string }> = {
  parsing: { kind: 'config', text: 'is not a valid secret reference' },
  vaultNotFound: { kind: 'not-found', text: 'names a vault that does not exist or is not shared with this service account' },
  itemNotFound: { kind: 'not-found', text: 'names an item that does not exist in that vault' },
  fieldNotFound: { kind: 'not-found', text: 'names a field that the item does not have' },
  noMatchingSections: { kind: 'not-found', text: 'names a section that the item does not have' },
  tooManyVaults: { kind: 'config', text: 'is ambiguous: several vaults have that name; use the vault\'s ID' },
  tooManyItems: { kind: 'config', text: 'is ambiguous: several items have that name; use the item\'s ID' },
  tooManyMatchingFields: { kind: 'config', text: 'is ambiguous: several fields have that name; add the section or use the field\'s ID' },
  incompatibleTOTPQueryParameterField: { kind: 'config', text: 'asks for ?attribute=otp on a field that is not a one-time password' },
  unableToGenerateTotpCode: { kind: 'corrupt', text: 'names a one-time password field whose code could not be computed' },
  sSHKeyMetadataNotFound: { kind: 'corrupt', text: 'names an SSH key field without its key attributes' },
  unsupportedFileFormat: { kind: 'config', text: 'names a file that is not text; set "kind": "file" to publish its exact bytes' },
  incompatibleSshKeyQueryParameterField: { kind: 'config', text: 'asks for ?ssh-format on a field that is not an SSH private key' },
  unableToParsePrivateKey: { kind: 'corrupt', text: 'names an SSH key that could not be parsed' },
  unableToFormatPrivateKeyToOpenSsh: { kind: 'corrupt', text: 'names an SSH key that could not be converted to the OpenSSH format' },
  other: { kind: 'corrupt', text: 'could not be resolved (1Password gave no reason)' },
};

// Why never retried: the answer for this reference cannot change within the run.
/** The ProviderError for one reference that resolveAll answered with an error. */
export function classifyReferenceError(reference: string, error: ResolveReferenceError): ProviderError {
  const known = REFERENCE_ERRORS[error.type] as { kind: ProviderErrorKind; text: string } | undefined;
  const detail = error.message ? `: ${sanitize(error.message)}` : '';
  if (!known) return fail('corrupt', `${reference} could not be resolved (${String(error.type)}${detail})`);
  return fail(known.kind, `${reference} ${known.text} (${error.type}${detail})`);
}
