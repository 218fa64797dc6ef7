// The sops provider's implementation, loaded only when a run uses sops. Requests are grouped by file:
// each file is read, parsed, its data key recovered and its values decrypted and MAC-checked once,
// however many secrets use it (sops-nix decrypts once per secret, #956). A file that fails its MAC
// gives nothing to anyone.
import { readSourceFile } from '../files.js';
import { ProviderError, type ProviderErrorKind } from '../../errors.js';
import type { CheckProblem, FetchOutcome, Provider, ProviderContext, SecretRequest } from '../provider.js';
import { recoverDataKey } from './datakey.js';
import { SopsDataKeyError, SopsFormatError, SopsIntegrityError, SopsKeyPathError } from './errors.js';
import { emitFile, emitSubtree, parseSopsFile, type FormatLibraries, type SopsFile } from './formats/index.js';
import { scalarBytes } from './formats/text.js';
import type { YamlLib } from './formats/yaml.js';
import { decryptTree } from './mac.js';
import type { Re2Lib } from './rules.js';
import { select } from './path.js';
import { SshGnupgHome } from './gnupg-ssh.js';
import { gpgSession, type GpgDecrypt, type GpgSession } from './pgp.js';
import { formatOf, parseKey, type KeySpec, type SopsFormat, type SopsSource } from './source.js';
import { wipe, type Branch, type TreeNode } from './tree.js';
import { yieldToEventLoop } from '../../yield.js';

export const NAME = 'sops';

/** What tests (or an embedding program) may inject: the yaml and re2js packages, gpg, an unwrap counter. */
export interface SopsLib {
  yaml?: YamlLib;
  re2?: Re2Lib;
  gpg?: GpgDecrypt;
  onUnwrap?: (key: string) => void;
}

interface FileGroup {
  file: string;
  format: SopsFormat;
  requests: SecretRequest<SopsSource>[];
}

/** Requests by (file, format): the unit of reading and decryption. */
function groupByFile(requests: readonly SecretRequest<SopsSource>[]): FileGroup[] {
  const groups = new Map<string, FileGroup>();
  for (const request of requests) {
    const format = formatOf(request.source);
    const id = `${format}\0${request.source.file}`;
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { file: request.source.file, format, requests: [] }));
    group.requests.push(request);
  }
  return [...groups.values()];
}

/** The `yaml` package, imported on first use (it is CommonJS: bundled, its exports sit on `default`). */
async function loadYaml(): Promise<YamlLib> {
  const mod = (await import('yaml')) as YamlLib & { default?: YamlLib };
  return typeof mod.parseAllDocuments === 'function' ? mod : mod.default!;
}

// Why the yield: the deadline is a timer, and a timer cannot fire while synchronous work (parsing,
// decrypting) holds the event loop; between files it gets its turn, so the deadline stops the work
// at the next file (one file's work is linear in its size: RE2 rules, YAML limits).
/** Whether the run's deadline has passed, letting it fire first. */
async function pastDeadline(context: ProviderContext): Promise<boolean> {
  await yieldToEventLoop();
  return context.signal.aborted;
}

/** A failed outcome for one request. */
const fail = (kind: ProviderErrorKind, message: string): FetchOutcome => ({ error: new ProviderError(NAME, kind, message) });

class SopsProvider implements Provider<SopsSource> {
  readonly #libs: FormatLibraries;
  constructor(private readonly lib: SopsLib) {
    let yaml: Promise<YamlLib> | undefined;
    let re2: Promise<Re2Lib> | undefined;
    this.#libs = {
      yaml: () => (yaml ??= lib.yaml ? Promise.resolve(lib.yaml) : loadYaml()),
      re2: () => (re2 ??= lib.re2 ? Promise.resolve(lib.re2) : import('re2js')),
    };
  }

  /** Reads and parses one file; a ProviderError says why it could not be. */
  private async load(group: FileGroup): Promise<SopsFile | ProviderError> {
    const data = readSourceFile(NAME, group.file);
    if (data instanceof ProviderError) return data;
    try {
      return await parseSopsFile(data, group.format, this.#libs);
    } catch (error) {
      if (error instanceof SopsFormatError) return new ProviderError(NAME, 'corrupt', `${group.file}: not a valid sops ${group.format} file: ${error.message}`);
      throw error;
    }
  }

  /** The key of each request parsed for the file's format; malformed ones are configuration errors. */
  private specs(group: FileGroup, out: Map<string, FetchOutcome>): { request: SecretRequest<SopsSource>; spec: KeySpec }[] {
    const valid: { request: SecretRequest<SopsSource>; spec: KeySpec }[] = [];
    for (const request of group.requests) {
      const spec = parseKey(group.format, request.source.key);
      if ('error' in spec) out.set(request.id, fail('config', `${group.file}: key "${request.source.key}": ${spec.error}`));
      else valid.push({ request, spec });
    }
    return valid;
  }

  /** Whether the key names something, checked on the encrypted tree (keys are plaintext). */
  private locate(group: FileGroup, branches: readonly Branch[], spec: KeySpec): FetchOutcome | undefined {
    try {
      select(branches, spec);
      return undefined;
    } catch (error) {
      if (!(error instanceof SopsKeyPathError)) throw error;
      return fail(error.reason === 'ambiguous' ? 'config' : 'not-found', `${group.file} ${error.message}`);
    }
  }

  /** One file for all its requests: keys checked, data key recovered, tree decrypted and MAC-checked once. */
  private async fetchFile(group: FileGroup, context: ProviderContext, gpg: GpgSession, out: Map<string, FetchOutcome>, sshGnupg: SshGnupgHome | undefined): Promise<void> {
    const valid = this.specs(group, out);
    if (valid.length === 0) return;
    const file = await this.load(group);
    if (file instanceof ProviderError) {
      for (const { request } of valid) out.set(request.id, { error: file });
      return;
    }
    const pending = valid.filter(({ request, spec }) => {
      const missing = this.locate(group, file.branches, spec);
      if (missing) out.set(request.id, missing);
      return !missing;
    });
    if (pending.length === 0) return;
    if (await pastDeadline(context)) {
      for (const p of pending) out.set(p.request.id, fail('unavailable', `${group.file}: not decrypted: the run's deadline (--timeout) passed`));
      return;
    }

    let key: Buffer;
    try {
      key = await recoverDataKey(file.metadata, {
        keyRing: () => context.keyRing(),
        gnupgHome: context.keys.gnupgHome,
        ...(sshGnupg ? { sshGnupg } : {}),
        gpg: gpg.decrypt,
        signal: context.signal,
        onUnwrap: this.lib.onUnwrap,
      });
    } catch (error) {
      const outcome =
        error instanceof SopsDataKeyError
          ? fail(error.temporary ? 'unavailable' : 'unauthorized', `${group.file}: cannot recover the data key: ${error.message}`)
          : error instanceof SopsIntegrityError
            ? fail('corrupt', `${group.file}: refused: ${error.message}`)
            : undefined;
      if (!outcome) throw error;
      for (const p of pending) out.set(p.request.id, outcome);
      return;
    }

    let decrypted: Branch[];
    try {
      decrypted = decryptTree(file.branches, file.metadata, key);
    } catch (error) {
      if (!(error instanceof SopsIntegrityError)) throw error;
      // Nothing from a file that fails its integrity check, whatever each request asked for.
      for (const p of pending) out.set(p.request.id, fail('corrupt', `${group.file}: refused: ${error.message}`));
      return;
    } finally {
      key.fill(0);
    }

    let whole: Buffer | undefined;
    try {
      for (const { request, spec } of pending) {
        try {
          const node = select(decrypted, spec);
          if (node === undefined) whole ??= await emitFile(group.format, decrypted, this.#libs);
          out.set(request.id, { ok: node === undefined ? Buffer.from(whole!) : await this.render(group.format, node) });
        } catch (error) {
          if (!(error instanceof SopsFormatError)) throw error;
          out.set(request.id, fail('corrupt', `${group.file}: ${error.message}`));
        }
      }
    } finally {
      // Every answer is a copy: the decrypted tree and the shared whole-file text can go.
      wipe(decrypted);
      whole?.fill(0);
    }
  }

  /** A scalar as its text; a mapping or list as YAML or JSON, like the file. */
  private async render(format: SopsFormat, node: TreeNode): Promise<Buffer> {
    if (node.kind === 'map' || node.kind === 'list') return emitSubtree(format, node, this.#libs);
    // A copy: the decrypted tree is wiped once the outputs are taken.
    return Buffer.from(scalarBytes(node, 'go'));
  }

  /** Every request, grouped by file. */
  async fetch(requests: readonly SecretRequest<SopsSource>[], context: ProviderContext): Promise<Map<string, FetchOutcome>> {
    const out = new Map<string, FetchOutcome>();
    const gpg = gpgSession(this.lib.gpg);
    const sshPaths = context.keys.gnupgSshKeyPaths ?? [];
    const sshGnupg = sshPaths.length ? new SshGnupgHome(sshPaths, context.log, context.signal) : undefined;
    try {
      await this.fetchFiles(requests, context, gpg, out, sshGnupg);
    } finally {
      // Whatever happened: no gpg-agent this batch started outlives it, nor the temporary GnuPG home.
      await gpg.stopAgents();
      await sshGnupg?.close();
    }
    return out;
  }

  /** One file at a time: gpg (and a YubiKey behind it) is asked for one data key at once. */
  private async fetchFiles(requests: readonly SecretRequest<SopsSource>[], context: ProviderContext, gpg: GpgSession, out: Map<string, FetchOutcome>, sshGnupg: SshGnupgHome | undefined): Promise<void> {
    for (const group of groupByFile(requests)) {
      if (await pastDeadline(context)) {
        const outcome = fail('unavailable', `${group.file}: not read: the run's deadline (--timeout) passed`);
        for (const r of group.requests) out.set(r.id, outcome);
        continue;
      }
      try {
        await this.fetchFile(group, context, gpg, out, sshGnupg);
      } catch (error) {
        // A bug, not the file: report it without its message, which could quote what was being read.
        const outcome = fail('corrupt', `${group.file}: could not be processed (internal error ${(error as Error)?.name ?? 'unknown'}; please report it)`);
        for (const r of group.requests) if (!out.has(r.id)) out.set(r.id, outcome);
      }
    }
  }

  /** Build time, no decryption: files parse and have metadata, keys are well-formed and present. */
  async check(requests: readonly SecretRequest<SopsSource>[]): Promise<CheckProblem[]> {
    const problems: CheckProblem[] = [];
    for (const group of groupByFile(requests)) {
      const answers = new Map<string, FetchOutcome>();
      const valid = this.specs(group, answers);
      const file = await this.load(group).catch((error: unknown) => new ProviderError(NAME, 'corrupt', `${group.file}: could not be read (internal error ${(error as Error)?.name ?? 'unknown'}; please report it)`));
      if (file instanceof ProviderError) {
        for (const r of group.requests) problems.push({ requestId: r.id, secrets: r.secrets, field: 'file', message: file.message });
      } else {
        const usable = file.metadata.groups.filter((g) => g.some((k) => k.type !== 'unsupported')).length;
        if (usable < file.metadata.threshold) {
          const services = [...new Set(file.metadata.groups.flat().flatMap((k) => (k.type === 'unsupported' ? [k.service] : [])))].join(', ');
          const message = `${group.file} needs ${file.metadata.threshold} key group(s) but only ${usable} hold age or PGP keys (the others: ${services}, which materialize cannot use)`;
          for (const r of group.requests) problems.push({ requestId: r.id, secrets: r.secrets, field: 'file', message });
        }
        for (const { request, spec } of valid) {
          const missing = this.locate(group, file.branches, spec);
          if (missing) answers.set(request.id, missing);
        }
      }
      for (const r of group.requests) {
        const answer = answers.get(r.id);
        if (answer && 'error' in answer) problems.push({ requestId: r.id, secrets: r.secrets, field: 'key', message: answer.error.message });
      }
    }
    return problems;
  }
}

/** The implementation, with optional injected libraries (tests). */
export function createSopsProvider(lib: SopsLib = {}): Provider<SopsSource> {
  return new SopsProvider(lib);
}
