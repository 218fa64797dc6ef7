// `{"kind": "file"}`: a file attached to an item, or a Document item's document, as exact bytes.
// `resolveAll` returns text only, so files take the SDK's file API: vaults.list → items.list →
// items.get → items.files.read. Each look-up is made once per run, however many files share it.
import type { FileAttributes, Item, ItemOverview, VaultOverview } from '@1password/sdk';
import type { ProviderError } from '../../errors.js';
import { fail } from './errors.js';
import type { OnePasswordClient } from './port.js';
import type { ParsedReference } from './reference.js';
import type { Session } from './session.js';

/** Exactly one match by ID or by title, or the error that says why not. */
function pickOne<T extends { id: string; title: string }>(list: readonly T[], wanted: string, reference: string, what: string, scope: string): T | ProviderError {
  const byId = list.filter((x) => x.id === wanted);
  const matches = byId.length ? byId : list.filter((x) => x.title === wanted);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) return fail('not-found', `${reference}: no ${what} named "${wanted}" ${scope}`);
  return fail('config', `${reference} is ambiguous: ${matches.length} ${what}s are named "${wanted}" ${scope}; use the ${what}'s ID`);
}

export class FileResolver {
  #vaults: Promise<VaultOverview[]> | undefined;
  readonly #items = new Map<string, Promise<ItemOverview[]>>();
  readonly #full = new Map<string, Promise<Item>>();
  constructor(
    private readonly client: OnePasswordClient,
    private readonly session: Session,
  ) {}

  private vaults(): Promise<VaultOverview[]> {
    return (this.#vaults ??= this.session.call('vaults.list', () => this.client.vaults.list()));
  }

  private items(vaultId: string): Promise<ItemOverview[]> {
    let p = this.#items.get(vaultId);
    if (!p) this.#items.set(vaultId, (p = this.session.call('items.list', () => this.client.items.list(vaultId))));
    return p;
  }

  private item(vaultId: string, itemId: string): Promise<Item> {
    const key = `${vaultId}/${itemId}`;
    let p = this.#full.get(key);
    if (!p) this.#full.set(key, (p = this.session.call('items.get', () => this.client.items.get(vaultId, itemId))));
    return p;
  }

  /** The attributes of the file the reference names (by file name or field ID, in its section when one is given). */
  private locate(item: Item, ref: ParsedReference, reference: string): FileAttributes | ProviderError {
    let sectionIds: Set<string> | undefined;
    if (ref.section !== undefined) {
      const sections = item.sections.filter((s) => s.id === ref.section || s.title === ref.section);
      if (sections.length === 0) return fail('not-found', `${reference}: the item has no section "${ref.section}"`);
      sectionIds = new Set(sections.map((s) => s.id));
    }
    const candidates = new Map<string, FileAttributes>();
    for (const f of item.files) {
      if (sectionIds && !sectionIds.has(f.sectionId)) continue;
      if (f.attributes.name === ref.field || f.fieldId === ref.field || f.attributes.id === ref.field) candidates.set(f.attributes.id, f.attributes);
    }
    if (!sectionIds && item.document && (item.document.name === ref.field || item.document.id === ref.field)) candidates.set(item.document.id, item.document);
    if (candidates.size === 1) return [...candidates.values()][0]!;
    if (candidates.size === 0) {
      const names = [...item.files.map((f) => f.attributes.name), ...(item.document ? [item.document.name] : [])];
      return fail('not-found', `${reference}: the item has no file named "${ref.field}"${names.length ? ` (it has ${names.length} file${names.length === 1 ? '' : 's'})` : ' (it has no files)'}`);
    }
    return fail('config', `${reference} is ambiguous: ${candidates.size} files of the item are named "${ref.field}"; add the section or use the file's field ID`);
  }

  /** The file's bytes; a ProviderError (thrown) says why not. */
  async read(ref: ParsedReference, reference: string): Promise<Buffer> {
    const vault = pickOne(await this.vaults(), ref.vault, reference, 'vault', 'is shared with this service account');
    if (!('id' in vault)) throw vault;
    const overviews = (await this.items(vault.id)).filter((i) => String(i.state ?? 'active') !== 'archived');
    const overview = pickOne(overviews, ref.item, reference, 'item', `in vault "${vault.title}"`);
    if (!('id' in overview)) throw overview;
    const item = await this.item(vault.id, overview.id);
    const attributes = this.locate(item, ref, reference);
    if (!('id' in attributes)) throw attributes;
    const bytes = await this.session.call('items.files.read', () => this.client.items.files.read(vault.id, overview.id, attributes));
    if (typeof attributes.size === 'number' && bytes.length !== attributes.size) {
      throw fail('corrupt', `${reference}: 1Password sent ${bytes.length} bytes for a file of ${attributes.size}`);
    }
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}
