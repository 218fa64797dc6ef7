// Picking a value out of the one `bw list items` of the run: the item by id or exact name (two
// items with that name are an error naming both ids), then the field: password, username, notes,
// the current TOTP code, or a custom field by exact name. Attachments are resolved to their ids
// here and downloaded by the caller. Messages name items, fields and ids, never values.
import { ProviderError } from '../../errors.js';
import { isUuid } from './access-token.js';
import { TotpError, totpCode } from './totp.js';

const NAME = 'bitwarden';

/** An item as `bw list items` prints it (the fields we read). */
export interface VaultItem {
  id: string;
  name: string;
  type: number;
  notes?: string | null;
  login?: { username?: string | null; password?: string | null; totp?: string | null } | null;
  fields?: { name?: string | null; value?: string | null; type?: number; linkedId?: number | null }[] | null;
  attachments?: { id: string; fileName?: string | null; size?: string | number | null }[] | null;
}

/** The one item `ref` names: an id (any case), else the exact name. */
export function findItem(items: readonly VaultItem[], ref: string): VaultItem | ProviderError {
  if (isUuid(ref)) {
    const byId = items.find((i) => i.id.toLowerCase() === ref.toLowerCase());
    if (byId) return byId;
  }
  const byName = items.filter((i) => i.name === ref);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) {
    return new ProviderError(NAME, 'config', `${byName.length} items are named ${JSON.stringify(ref)} (${byName.map((i) => i.id).join(', ')}); name one by its id`);
  }
  const nearly = items.filter((i) => i.name.toLowerCase() === ref.toLowerCase()).map((i) => JSON.stringify(i.name));
  const hint = nearly.length ? `; names are case-sensitive, and the vault has ${nearly.slice(0, 3).join(', ')}` : '';
  return new ProviderError(NAME, 'not-found', `no item ${isUuid(ref) ? 'with the id' : 'named'} ${JSON.stringify(ref)} in the vault${hint}`);
}

const TYPE_NAMES: Record<number, string> = { 1: 'login', 2: 'secure note', 3: 'card', 4: 'identity', 5: 'SSH key' };
// Linked custom fields (type 3) point at a login's own fields.
const LINKED: Record<number, 'username' | 'password'> = { 100: 'username', 101: 'password' };

/** The value of `field` in `item`, as bytes; a field that is absent or empty is not found. */
export function readField(item: VaultItem, field: string, now = Date.now()): Buffer | ProviderError {
  const where = `item ${JSON.stringify(item.name)} (${item.id})`;
  const missing = (what: string) => new ProviderError(NAME, 'not-found', `${where} has no ${what}`);
  const present = (v: string | null | undefined): v is string => typeof v === 'string' && v !== '';
  const login = item.login ?? null;
  const notLogin = () => new ProviderError(NAME, 'not-found', `${where} is a ${TYPE_NAMES[item.type] ?? `type ${item.type} item`}, which has no ${field}; name a custom field instead`);
  switch (field) {
    case 'password':
    case 'username': {
      if (!login) return hasCustom(item, field) ? custom(item, field, where) : notLogin();
      const value = login[field];
      return present(value) ? Buffer.from(value, 'utf8') : missing(field);
    }
    case 'totp': {
      if (!login) return hasCustom(item, field) ? custom(item, field, where) : notLogin();
      if (!present(login.totp)) return missing('TOTP secret');
      try {
        return Buffer.from(totpCode(login.totp, now), 'utf8');
      } catch (error) {
        return new ProviderError(NAME, 'corrupt', `${where}: ${error instanceof TotpError ? error.message : 'its TOTP secret cannot be used'}`);
      }
    }
    case 'notes':
      return present(item.notes) ? Buffer.from(item.notes, 'utf8') : missing('notes');
    default:
      return custom(item, field, where);
  }
}

const hasCustom = (item: VaultItem, name: string) => (item.fields ?? []).some((f) => f.name === name);

function custom(item: VaultItem, name: string, where: string): Buffer | ProviderError {
  const fields = (item.fields ?? []).filter((f) => f.name === name);
  if (fields.length > 1) return new ProviderError(NAME, 'config', `${where} has ${fields.length} custom fields named ${JSON.stringify(name)}; rename one`);
  const f = fields[0];
  if (!f) {
    const names = (item.fields ?? []).map((x) => x.name).filter((n): n is string => typeof n === 'string');
    return new ProviderError(NAME, 'not-found', `${where} has no field ${JSON.stringify(name)} (custom fields: ${names.length ? names.map((n) => JSON.stringify(n)).join(', ') : 'none'}; built-in: password, username, notes, totp)`);
  }
  if (f.type === 3) {
    const target = f.linkedId != null ? LINKED[f.linkedId] : undefined;
    if (!target) return new ProviderError(NAME, 'not-found', `${where}: the linked field ${JSON.stringify(name)} points at nothing this program reads`);
    const value = item.login?.[target];
    return typeof value === 'string' && value !== '' ? Buffer.from(value, 'utf8') : new ProviderError(NAME, 'not-found', `${where}: the linked field ${JSON.stringify(name)} is empty`);
  }
  return typeof f.value === 'string' && f.value !== '' ? Buffer.from(f.value, 'utf8') : new ProviderError(NAME, 'not-found', `${where}: the field ${JSON.stringify(name)} is empty`);
}

/** The attachment `ref` (exact file name, or id) of `item`; two with that name are an error naming both ids. */
export function findAttachment(item: VaultItem, ref: string): { id: string; size: number | undefined } | ProviderError {
  const where = `item ${JSON.stringify(item.name)} (${item.id})`;
  const all = item.attachments ?? [];
  const byId = all.find((a) => a.id.toLowerCase() === ref.toLowerCase());
  const matches = byId ? [byId] : all.filter((a) => a.fileName === ref);
  if (matches.length > 1) return new ProviderError(NAME, 'config', `${where} has ${matches.length} attachments named ${JSON.stringify(ref)} (${matches.map((a) => a.id).join(', ')}); name one by its id`);
  const a = matches[0];
  if (!a) {
    const names = all.map((x) => x.fileName).filter((n): n is string => typeof n === 'string');
    return new ProviderError(NAME, 'not-found', `${where} has no attachment ${JSON.stringify(ref)} (attachments: ${names.length ? names.map((n) => JSON.stringify(n)).join(', ') : 'none'})`);
  }
  const size = a.size == null ? undefined : Number(a.size);
  return { id: a.id, size: Number.isFinite(size) ? size : undefined };
}
