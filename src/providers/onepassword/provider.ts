// The 1Password provider's implementation, loaded only when a run uses 1Password. Per run: every
// reference validated locally first (no call for a bad one), one client, one `resolveAll` for all
// text references (deduplicated), files through the file API with look-ups cached, every call
// counted, bounded by a deadline and retried only when a retry can help.
import { ProviderError } from '../../errors.js';
import type { CheckProblem, FetchOutcome, Provider, ProviderContext, SecretRequest } from '../provider.js';
import { classifyReferenceError, fail, sanitize } from './errors.js';
import { guardFetch } from './fetch-guard.js';
import { FileResolver } from './files.js';
import { loadSdk, type OnePasswordClient, type OnePasswordSdk } from './port.js';
import { parseReference, type ParsedReference } from './reference.js';
import { Session } from './session.js';
import { effectiveSettings, type OnePasswordSettings, type OnePasswordSource } from './settings.js';
import { readToken } from './token.js';

/** What tests (or an embedding program) inject: the SDK port (a fake), a shorter backoff, seeded jitter. */
export interface OnePasswordLib {
  sdk: OnePasswordSdk;
  backoffMs?: number;
  random?: () => number;
}

interface Valid {
  request: SecretRequest<OnePasswordSource>;
  parsed: ParsedReference;
}

/** Why the SDK's validator refused a reference: it throws a JSON string {"name", "message"}. */
function validatorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return sanitize(parsed.message.replace(/^the secret reference could not be parsed: /, ''));
  } catch {
    // not JSON
  }
  return sanitize(text);
}

/** A request's reference checked by our parser and the SDK's own validator (both local). */
function validate(sdk: OnePasswordSdk, source: OnePasswordSource): ParsedReference | string {
  const parsed = parseReference(source.reference);
  if ('error' in parsed) return parsed.error;
  try {
    sdk.validateSecretReference(source.reference);
  } catch (error) {
    return `1Password's validator refuses it: ${validatorMessage(error)}`;
  }
  return parsed;
}

// The resolver lives with the sign-in: its look-ups are cached for the run, not for one fallback round.
type SignedIn = { client: OnePasswordClient; session: Session; files: FileResolver } | { error: ProviderError };

class OnePasswordProvider implements Provider<OnePasswordSource> {
  #sdk: Promise<OnePasswordSdk> | undefined;
  // One sign-in per run: the engine calls fetch again for fallback sources, with the same provider.
  #signedIn: Promise<SignedIn> | undefined;
  constructor(private readonly lib: OnePasswordLib | undefined) {}

  private sdk(): Promise<OnePasswordSdk> {
    return (this.#sdk ??= this.lib ? Promise.resolve(this.lib.sdk) : loadSdk());
  }

  /** Splits the requests into valid ones and configuration failures, before anything is sent. */
  private validateAll(sdk: OnePasswordSdk, requests: readonly SecretRequest<OnePasswordSource>[], out: Map<string, FetchOutcome>): Valid[] {
    const valid: Valid[] = [];
    for (const request of requests) {
      const result = validate(sdk, request.source);
      if (typeof result === 'string') out.set(request.id, { error: fail('config', `${request.source.reference}: ${result}`) });
      else valid.push({ request, parsed: result });
    }
    return valid;
  }

  /** One resolveAll for every distinct text reference; each answer goes to the requests that asked for it. */
  private async resolveText(client: OnePasswordClient, session: Session, text: readonly Valid[], out: Map<string, FetchOutcome>): Promise<void> {
    if (text.length === 0) return;
    const references = [...new Set(text.map((v) => v.request.source.reference))];
    let answers;
    try {
      answers = (await session.call('resolveAll', () => client.secrets.resolveAll(references))).individualResponses ?? {};
    } catch (error) {
      for (const v of text) out.set(v.request.id, { error: error as ProviderError });
      return;
    }
    for (const v of text) {
      const reference = v.request.source.reference;
      const answer = Object.prototype.hasOwnProperty.call(answers, reference) ? answers[reference] : undefined;
      if (answer?.error) out.set(v.request.id, { error: classifyReferenceError(reference, answer.error) });
      else if (answer?.content && typeof answer.content.secret === 'string') out.set(v.request.id, { ok: Buffer.from(answer.content.secret, 'utf8') });
      else out.set(v.request.id, { error: fail('corrupt', `${reference}: 1Password's answer had no value and no error for this reference`) });
    }
  }

  /** Each file through the cached look-ups, one after the other (a file is rare; its look-ups are shared). */
  private async resolveFiles(resolver: FileResolver, files: readonly Valid[], out: Map<string, FetchOutcome>): Promise<void> {
    if (files.length === 0) return;
    for (const v of files) {
      try {
        out.set(v.request.id, { ok: await resolver.read(v.parsed, v.request.source.reference) });
      } catch (error) {
        out.set(v.request.id, { error: error instanceof ProviderError ? error : fail('corrupt', `${v.request.source.reference}: could not be read (internal error ${(error as Error)?.name ?? 'unknown'}; please report it)`) });
      }
    }
  }

  /** Signs in (once per run: a failure is the answer for the whole run too). */
  private signIn(sdk: OnePasswordSdk, settings: OnePasswordSettings, context: ProviderContext): Promise<SignedIn> {
    return (this.#signedIn ??= (async (): Promise<SignedIn> => {
      let token;
      try {
        token = readToken(settings);
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        return { error };
      }
      const auth = token.value.toString('utf8');
      token.value.fill(0);
      const session = new Session({ sdk, settings, context, secrets: [auth], backoffMs: this.lib?.backoffMs, random: this.lib?.random });
      try {
        const client = await session.call('createClient', () => sdk.createClient({ auth, integrationName: settings.integrationName, integrationVersion: settings.integrationVersion }));
        return { client, session, files: new FileResolver(client, session) };
      } catch (error) {
        return { error: error as ProviderError };
      }
    })());
  }

  async fetch(requests: readonly SecretRequest<OnePasswordSource>[], context: ProviderContext): Promise<Map<string, FetchOutcome>> {
    const out = new Map<string, FetchOutcome>();
    const settings = effectiveSettings(context.settings);
    const sdk = await this.sdk();
    const valid = this.validateAll(sdk, requests, out);
    if (valid.length === 0) return out;
    const guard = guardFetch();
    try {
      const signedIn = await this.signIn(sdk, settings, context);
      if ('error' in signedIn) {
        for (const v of valid) out.set(v.request.id, { error: signedIn.error });
        return out;
      }
      const { client, session, files } = signedIn;
      await Promise.all([
        this.resolveText(client, session, valid.filter((v) => v.request.source.kind !== 'file'), out),
        this.resolveFiles(files, valid.filter((v) => v.request.source.kind === 'file'), out),
      ]);
      return out;
    } finally {
      // Whatever is still in flight was given up on (a deadline): it must not hold the process.
      guard.release();
    }
  }

  /** Build time: every reference through the SDK's own validator. Local: the WASM, no network. */
  async check(requests: readonly SecretRequest<OnePasswordSource>[]): Promise<CheckProblem[]> {
    const sdk = await this.sdk();
    const problems: CheckProblem[] = [];
    for (const request of requests) {
      const result = validate(sdk, request.source);
      if (typeof result === 'string') problems.push({ requestId: request.id, secrets: request.secrets, field: 'reference', message: result });
    }
    return problems;
  }
}

export function createOnePasswordProvider(lib?: OnePasswordLib): Provider<OnePasswordSource> {
  return new OnePasswordProvider(lib);
}
