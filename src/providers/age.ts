// `{"age": {"file": "db.age"}}`: one .age file (binary or armored) per secret — the agenix format —
// opened with the run's identities (age key files, SSH host keys) by the native age code.
import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod/mini';
import { AgeDecryptError, AgeDecrypter } from '../age/decrypt.js';
import { dearmor, isArmored } from '../age/armor.js';
import { parseHeader } from '../age/format.js';
import { lazySchema } from '../config/validate.js';
import { ProviderError } from '../errors.js';
import { readSourceFile } from './files.js';
import { YIELD_EVERY, yieldToEventLoop } from '../yield.js';
import type { CheckProblem, FetchOutcome, Provider, ProviderDefinition, SecretRequest } from './provider.js';

export interface AgeSource {
  file: string;
}

const NAME = 'age';

/** Maps a decryption failure to the provider error kinds; the message names the file, never contents. */
function toProviderError(file: string, error: unknown): ProviderError {
  if (error instanceof AgeDecryptError) {
    const kind = error.kind === 'no-identity' ? 'unauthorized' : error.kind === 'unsupported' ? 'config' : 'corrupt';
    return new ProviderError(NAME, kind, `${file}: ${error.message}`, { cause: error });
  }
  return new ProviderError(NAME, 'corrupt', `${file}: cannot be decrypted`, { cause: error });
}

/** The failure for every file when the host has no usable key at all: says where keys come from. */
function noKeysError(file: string, problems: readonly string[]): ProviderError {
  const why = problems.length ? `every configured key was skipped (see the ${problems.length === 1 ? 'warning' : `${problems.length} warnings`})` : 'keys.ageKeyFiles and keys.sshKeyPaths are empty';
  return new ProviderError(NAME, 'unauthorized', `${file}: no usable age or SSH key on this machine: ${why}`);
}

/** Decrypts each request's file with the run's key ring; one failure never hides the others. */
class AgeProvider implements Provider<AgeSource> {
  async fetch(requests: readonly SecretRequest<AgeSource>[], context: Parameters<Provider['fetch']>[1]): Promise<Map<string, FetchOutcome>> {
    const ring = await context.keyRing();
    // One decrypter for the batch: it tries first the identity that opened the previous file.
    const decrypter = new AgeDecrypter(ring.identities);
    const out = new Map<string, FetchOutcome>();
    for (const [i, request] of requests.entries()) {
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
      const file = request.source.file;
      // The deadline fires at a yield (not during synchronous decryption): the rest is not read.
      if (context.signal.aborted) {
        out.set(request.id, { error: new ProviderError(NAME, 'unavailable', `${file}: not read: the run's deadline (--timeout) passed`) });
        continue;
      }
      const data = readSourceFile(NAME, file);
      if (data instanceof ProviderError) {
        out.set(request.id, { error: data });
        continue;
      }
      if (ring.identities.length === 0) {
        out.set(request.id, { error: noKeysError(file, ring.problems) });
        continue;
      }
      try {
        out.set(request.id, { ok: await decrypter.decrypt(data) });
      } catch (error) {
        out.set(request.id, { error: toProviderError(file, error) });
      }
    }
    return out;
  }

  async check(requests: readonly SecretRequest<AgeSource>[]): Promise<CheckProblem[]> {
    const problems: CheckProblem[] = [];
    for (const request of requests) {
      const data = readSourceFile(NAME, request.source.file);
      if (data instanceof ProviderError) {
        problems.push({ requestId: request.id, secrets: request.secrets, field: 'file', message: data.message });
        continue;
      }
      try {
        const header = parseHeader(isArmored(data) ? dearmor(data) : data);
        if (header.stanzas.length === 0) problems.push({ requestId: request.id, secrets: request.secrets, field: 'file', message: `${request.source.file} has no recipients` });
        else if (header.stanzas.some((s) => s.args[0] === 'scrypt')) {
          problems.push({ requestId: request.id, secrets: request.secrets, field: 'file', message: `${request.source.file} is passphrase-encrypted (scrypt), which cannot be opened unattended; encrypt it to a recipient key` });
        }
      } catch (error) {
        problems.push({ requestId: request.id, secrets: request.secrets, field: 'file', message: `${request.source.file} is not an age file (${(error as Error).message})` });
      }
    }
    return problems;
  }
}

const source = lazySchema(() => z.strictObject({ file: z.string().check(z.minLength(1)) }));

export const ageProvider: ProviderDefinition<AgeSource> = {
  name: NAME,
  get source() {
    return source();
  },
  normalize: (source, baseDir) => ({ file: isAbsolute(source.file) ? source.file : resolve(baseDir, source.file) }),
  usesKeys: true,
  describe: (source) => `age ${source.file}`,
  load: async () => new AgeProvider(),
};
