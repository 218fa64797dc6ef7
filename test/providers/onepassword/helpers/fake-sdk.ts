// A fake of the provider's port (src/providers/onepassword/port.ts) that behaves like
// @1password/sdk 0.5.0 as read from its declarations and sources and as measured
// (../shared/notes/clients.md): `resolveAll` answers `{individualResponses: {[ref]: {content} |
// {error: {type, message?}}}}`; references go through the SDK's real, local
// `Secrets.validateSecretReference` (a refused one answers `parsing`, as the core does); a rate
// limit at sign-in is a plain Error "authentication error: rate limit exceeded", at resolveAll the
// SDK's own exported RateLimitExceededError; items, vaults and files have the SDK's shapes. Every
// call is counted, and optionally logged (JSON lines) for tests that run the CLI in a child.
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createHash } from 'node:crypto';
import * as sdkModule from '@1password/sdk';
import type { ClientConfig, OnePasswordClient, OnePasswordSdk } from '../../../../src/providers/onepassword/port.js';

const real = ((sdkModule as unknown as { default?: typeof sdkModule }).default ?? sdkModule) as typeof sdkModule;
export const { RateLimitExceededError, ItemCategory, ItemFieldType, ItemState, VaultType } = real;
export type ResolveAllResponse = import('@1password/sdk').ResolveAllResponse;
type Item = import('@1password/sdk').Item;
type ItemOverview = import('@1password/sdk').ItemOverview;
type VaultOverview = import('@1password/sdk').VaultOverview;
type FileAttributes = import('@1password/sdk').FileAttributes;
type ResolveReferenceError = import('@1password/sdk').ResolveReferenceError;

/** File content in a world: text, or bytes as base64 (worlds are JSON, for the CLI's child process). */
export type FakeContent = string | { base64: string };

export interface FakeField {
  id?: string;
  title: string;
  value: string;
  /** The section's title. */
  section?: string;
  type?: 'Concealed' | 'Text' | 'Totp' | 'SshKey';
  /** For Totp fields: the current code (what ?attribute=otp returns). */
  otp?: string;
  /** For SshKey fields: the key in OpenSSH format (what ?ssh-format=openssh returns). */
  openssh?: string;
}

export interface FakeFile {
  name: string;
  content: FakeContent;
  section?: string;
  fieldId?: string;
}

export interface FakeItem {
  id?: string;
  title: string;
  category?: 'Login' | 'Password' | 'SecureNote' | 'Document' | 'SshKey' | 'ApiCredentials';
  fields?: FakeField[];
  files?: FakeFile[];
  /** A Document item's document. */
  document?: FakeFile;
  archived?: boolean;
}

export interface FakeVault {
  id?: string;
  title: string;
  items: FakeItem[];
}

/** How a call misbehaves: the first `times` calls (all, when absent) fail this way. */
export type Failure = { as: 'rate-limit' | 'unauthenticated' | 'bad-token' | 'network' | 'reset' | 'hang' | 'server'; times?: number; message?: string };

export interface FakeWorld {
  vaults: FakeVault[];
  /** The token createClient accepts; any other fails as the real sign-in does (401). */
  token: string;
  /** Milliseconds every call takes (a round trip). */
  latencyMs?: number;
  failures?: Partial<Record<CallName, Failure>>;
  /** Where a hanging call sends a real request that is never answered (like the SDK's fetch). */
  hangUrl?: string;
  /** JSON lines, one per call, for tests that run the CLI in a child process. */
  logFile?: string;
}

export type CallName = 'createClient' | 'resolveAll' | 'vaults.list' | 'items.list' | 'items.get' | 'items.files.read';

export interface CallRecord {
  call: CallName;
  /** createClient: sha256 of the token it was given (never the token), the integration name/version. */
  tokenSha256?: string;
  integrationName?: string;
  integrationVersion?: string;
  /** resolveAll: the references asked for, in order. */
  references?: string[];
  args?: string[];
}

const contentBytes = (c: FakeContent): Buffer => (typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.from(c.base64, 'base64'));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const EPOCH = new Date('2025-01-01T00:00:00Z');

/** A 1Password-like ID (26 lowercase letters and digits), stable for a given seed. */
export function fakeId(seed: string): string {
  return createHash('sha256').update(seed).digest('base64').replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 26).padEnd(26, 'a');
}

export class FakeOnePassword {
  readonly calls: CallRecord[] = [];
  readonly #failed = new Map<CallName, number>();
  constructor(readonly world: FakeWorld) {
    for (const v of world.vaults) {
      v.id ??= fakeId(`vault:${v.title}`);
      for (const item of v.items) {
        item.id ??= fakeId(`item:${v.id}:${item.title}`);
        for (const f of item.fields ?? []) f.id ??= fakeId(`field:${item.id}:${f.section ?? ''}:${f.title}`);
        for (const f of item.files ?? []) f.fieldId ??= fakeId(`file:${item.id}:${f.section ?? ''}:${f.name}`);
      }
    }
  }

  count(call: CallName): number {
    return this.calls.filter((c) => c.call === call).length;
  }

  private record(record: CallRecord): void {
    this.calls.push(record);
    if (this.world.logFile) appendFileSync(this.world.logFile, `${JSON.stringify(record)}\n`);
  }

  /** Waits the round trip, then fails as configured (or returns). */
  private async roundTrip(call: CallName): Promise<void> {
    const failure = this.world.failures?.[call];
    const n = (this.#failed.get(call) ?? 0) + 1;
    const failing = failure && (failure.times === undefined || n <= failure.times);
    if (failing) this.#failed.set(call, n);
    if (failing && failure.as === 'hang') {
      // What the real SDK does against a silent server: a real request, never answered.
      await fetch(new Request(this.world.hangUrl ?? 'http://127.0.0.1:9/'));
      throw new Error('the silent server answered (it should not)');
    }
    if (this.world.latencyMs) await new Promise((r) => setTimeout(r, this.world.latencyMs));
    if (!failing) return;
    switch (failure.as) {
      case 'rate-limit':
        // Sign-in (HTTP 429): a plain Error; resolveAll and the item calls: the SDK's exported class.
        if (call === 'createClient') throw new Error('authentication error: rate limit exceeded');
        throw new RateLimitExceededError(failure.message ?? 'rate limit exceeded');
      case 'unauthenticated':
        throw new Error('authentication error: you are not authenticated');
      case 'bad-token':
        throw new Error('invalid user input: encountered the following errors: service account token had invalid format');
      case 'network':
        // The network is down: the SDK's core makes its request through the global fetch, the
        // connection is refused, and it says only this (shared/notes/clients.md).
        await failingRequest('refused');
        throw new Error('authentication error: request library compatibility issue (error sending request)');
      case 'reset':
        // The request reached the server, which reset the connection: the SDK says the same.
        await failingRequest('reset');
        throw new Error('authentication error: request library compatibility issue (error sending request)');
      case 'server':
        throw new Error(failure.message ?? 'an internal server error occurred, please try again later (500)');
    }
  }

  private vault(id: string): FakeVault {
    const v = this.world.vaults.find((x) => x.id === id);
    // The real item calls fail for a vault the service account cannot see.
    if (!v) throw new Error(`vault ${id} not found`);
    return v;
  }

  private fullItem(vault: FakeVault, item: FakeItem): Item {
    const sectionId = (title: string | undefined) => (title === undefined ? undefined : fakeId(`section:${item.id}:${title}`));
    const sections = [...new Set([...(item.fields ?? []), ...(item.files ?? [])].map((f) => f.section).filter((s): s is string => s !== undefined))];
    const attributes = (f: FakeFile): FileAttributes => ({ name: f.name, id: fakeId(`attr:${item.id}:${f.name}:${f.section ?? ''}`), size: contentBytes(f.content).length });
    return {
      id: item.id!,
      title: item.title,
      category: ItemCategory[item.category ?? 'Login'],
      vaultId: vault.id!,
      fields: (item.fields ?? []).map((f) => ({ id: f.id!, title: f.title, ...(f.section ? { sectionId: sectionId(f.section) } : {}), fieldType: ItemFieldType[f.type ?? 'Concealed'], value: f.value })),
      sections: sections.map((title) => ({ id: sectionId(title)!, title })),
      notes: '',
      tags: [],
      websites: [],
      version: 1,
      files: (item.files ?? []).map((f) => ({ attributes: attributes(f), sectionId: sectionId(f.section) ?? '', fieldId: f.fieldId! })),
      ...(item.document ? { document: attributes(item.document) } : {}),
      createdAt: EPOCH,
      updatedAt: EPOCH,
    };
  }

  /** One reference as the SDK's core resolves it. */
  private resolveOne(reference: string): { content: { secret: string; itemId: string; vaultId: string } } | { error: ResolveReferenceError } {
    try {
      real.Secrets.validateSecretReference(reference);
    } catch (e) {
      return { error: { type: 'parsing', message: (JSON.parse(String(e)) as { message: string }).message } };
    }
    const [path, query] = reference.slice('op://'.length).split('?') as [string, string | undefined];
    const parts = path.split('/');
    const [vaultName, itemName] = parts as [string, string];
    const section = parts.length === 4 ? parts[2] : undefined;
    const fieldName = parts[parts.length - 1]!;
    const vaults = this.world.vaults.filter((v) => v.id === vaultName || v.title === vaultName);
    if (vaults.length === 0) return { error: { type: 'vaultNotFound' } };
    if (vaults.length > 1) return { error: { type: 'tooManyVaults' } };
    const vault = vaults[0]!;
    const items = vault.items.filter((i) => !i.archived && (i.id === itemName || i.title === itemName));
    if (items.length === 0) return { error: { type: 'itemNotFound' } };
    if (items.length > 1) return { error: { type: 'tooManyItems' } };
    const item = items[0]!;
    const inSection = (s: string | undefined) => section === undefined || s === section;
    if (section !== undefined && ![...(item.fields ?? []), ...(item.files ?? [])].some((f) => f.section === section)) return { error: { type: 'noMatchingSections' } };
    const fields = (item.fields ?? []).filter((f) => inSection(f.section) && (f.id === fieldName || f.title === fieldName));
    const files = (item.files ?? []).filter((f) => inSection(f.section) && f.name === fieldName);
    const found = { itemId: item.id!, vaultId: vault.id! };
    if (fields.length + files.length === 0) return { error: { type: 'fieldNotFound' } };
    if (fields.length + files.length > 1) return { error: { type: 'tooManyMatchingFields' } };
    if (files.length === 1) {
      // resolve handles text files only.
      const bytes = contentBytes(files[0]!.content);
      const text = bytes.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(bytes) || text.includes('\u0000')) return { error: { type: 'unsupportedFileFormat' } };
      return { content: { secret: text, ...found } };
    }
    const field = fields[0]!;
    if (query === 'attribute=otp' || query === 'attribute=totp') {
      if (field.type !== 'Totp') return { error: { type: 'incompatibleTOTPQueryParameterField' } };
      return { content: { secret: field.otp ?? '', ...found } };
    }
    if (query === 'ssh-format=openssh') {
      if (field.type !== 'SshKey') return { error: { type: 'incompatibleSshKeyQueryParameterField' } };
      return { content: { secret: field.openssh ?? '', ...found } };
    }
    return { content: { secret: field.value, ...found } };
  }

  /** The port, as the provider sees it. */
  sdk(): OnePasswordSdk {
    const client: OnePasswordClient = {
      secrets: {
        resolveAll: async (references: string[]): Promise<ResolveAllResponse> => {
          this.record({ call: 'resolveAll', references: [...references] });
          await this.roundTrip('resolveAll');
          return { individualResponses: Object.fromEntries(references.map((r) => [r, this.resolveOne(r)])) };
        },
      },
      vaults: {
        list: async (): Promise<VaultOverview[]> => {
          this.record({ call: 'vaults.list' });
          await this.roundTrip('vaults.list');
          return this.world.vaults.map((v) => ({ id: v.id!, title: v.title, description: '', vaultType: VaultType.UserCreated, activeItemCount: v.items.length, contentVersion: 1, attributeVersion: 1, createdAt: EPOCH, updatedAt: EPOCH }));
        },
      },
      items: {
        list: async (vaultId: string): Promise<ItemOverview[]> => {
          this.record({ call: 'items.list', args: [vaultId] });
          await this.roundTrip('items.list');
          const vault = this.vault(vaultId);
          return vault.items
            .filter((i) => !i.archived)
            .map((i) => ({ id: i.id!, title: i.title, category: ItemCategory[i.category ?? 'Login'], vaultId, websites: [], tags: [], createdAt: EPOCH, updatedAt: EPOCH, state: ItemState.Active }));
        },
        get: async (vaultId: string, itemId: string): Promise<Item> => {
          this.record({ call: 'items.get', args: [vaultId, itemId] });
          await this.roundTrip('items.get');
          const vault = this.vault(vaultId);
          const item = vault.items.find((i) => i.id === itemId);
          if (!item) throw new Error(`item ${itemId} not found`);
          return this.fullItem(vault, item);
        },
        files: {
          read: async (vaultId: string, itemId: string, attr: FileAttributes): Promise<Uint8Array> => {
            this.record({ call: 'items.files.read', args: [vaultId, itemId, attr.id] });
            await this.roundTrip('items.files.read');
            const item = this.vault(vaultId).items.find((i) => i.id === itemId);
            const all = [...(item?.files ?? []), ...(item?.document ? [item.document] : [])];
            const file = all.find((f) => fakeId(`attr:${itemId}:${f.name}:${f.section ?? ''}`) === attr.id);
            if (!file) throw new Error(`file ${attr.id} not found`);
            // The SDK's reviver turns the core's byte arrays into Uint8Array.
            return new Uint8Array(contentBytes(file.content));
          },
        },
      },
    };
    return {
      createClient: async (config: ClientConfig): Promise<OnePasswordClient> => {
        this.record({ call: 'createClient', tokenSha256: typeof config.auth === 'string' ? sha256(config.auth) : 'not a string', integrationName: config.integrationName, integrationVersion: config.integrationVersion });
        await this.roundTrip('createClient');
        if (config.auth !== this.world.token) throw new Error('authentication error: you are not authenticated');
        return client;
      },
      // The real, local validator and the real class: the fake never stands in for them.
      validateSecretReference: (reference: string) => real.Secrets.validateSecretReference(reference),
      RateLimitExceededError,
    };
  }
}

export { sha256 as tokenDigest };

/**
 * A real request through the global fetch, as the SDK's core makes, that fails: `refused` on a port
 * just closed (no connection is made), `reset` by a local server that reads the whole request and
 * then resets the connection (the request was sent).
 */
async function failingRequest(how: 'refused' | 'reset'): Promise<void> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (d) => {
      if (d.includes('\r\n\r\n')) socket.resetAndDestroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  if (how === 'refused') await new Promise((resolve) => server.close(resolve));
  try {
    await fetch(`http://127.0.0.1:${port}/api/v2/auth`, { method: 'POST', body: '{}' });
  } catch {
    return; // what the SDK's core sees, and turns into its one message
  } finally {
    server.close();
  }
  throw new Error(`the ${how} request was answered (it should not be)`);
}
