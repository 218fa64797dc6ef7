// A local server that speaks Bitwarden's HTTP API with real Bitwarden cryptography, on 127.0.0.1:
// identity (`connect/token` for passwords, personal API keys, Secrets Manager access tokens and
// refresh tokens; `accounts/prelogin`), the vault API the `bw` CLI uses (`sync`, revision date,
// attachments) and the Secrets Manager endpoints. Response shapes follow Bitwarden's and
// Vaultwarden's open sources; the real `bw` CLI and `@bitwarden/sdk-napi` talking to it are what
// prove it faithful (test/providers/bitwarden/fidelity.test.ts). It serves https (a self-signed
// certificate, cert.ts) and plain http on two ports, records every request, and can be told to
// misbehave: never answer, answer 429 or 500.
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { seededRandom } from '../random.js';
import { testCert } from './cert.js';
import { accessTokenKey, encArrayBuffer, encString, jwt, masterKey, masterPasswordHash, stretch, type Bytes, type Kdf } from './crypto.js';

export type { Kdf } from './crypto.js';

export interface FieldSpec {
  name: string;
  value: string | null;
  /** 0 text, 1 hidden, 2 boolean, 3 linked. */
  type?: 0 | 1 | 2 | 3;
  linkedId?: number;
}
export interface ItemSpec {
  id?: string;
  /** 1 login (default), 2 secure note. */
  type?: 1 | 2;
  name: string;
  notes?: string;
  login?: { username?: string; password?: string; totp?: string; uris?: string[] };
  fields?: FieldSpec[];
  attachments?: { fileName: string; data: Buffer; id?: string }[];
  deleted?: boolean;
}
export interface SecretSpec {
  id?: string;
  key: string;
  value: string | Buffer;
  note?: string;
  projects?: string[];
}
export interface UserOptions {
  /** Answer Secrets Manager logins as Vaultwarden does (it does not implement Secrets Manager). */
  vaultwarden?: boolean;
  email?: string;
  password?: string;
  kdf?: Kdf;
  premium?: boolean;
}
export type FaultKind = 'silent' | '429' | '500' | 'reset';
export interface Fault {
  /** Which requests: a test of `METHOD /path` (query excluded), e.g. /connect\/token/. */
  match: RegExp;
  kind: FaultKind;
  /** Only this many times (default: always). */
  times?: number;
}
export interface RecordedRequest {
  method: string;
  path: string;
  /** The OAuth grant and scope of a connect/token call. */
  grant?: string;
  scope?: string;
  at: number;
}

interface Attachment {
  id: string;
  fileName: string;
  key: Buffer;
  data: Buffer;
}
interface Cipher {
  spec: ItemSpec;
  id: string;
  attachments: Attachment[];
  revisionDate: string;
}
interface Secret {
  id: string;
  key: string;
  value: Buffer;
  note: string;
  projects: string[];
  revisionDate: string;
}
type Session = { kind: 'user'; exp: number } | { kind: 'sm'; tokenId: string; exp: number };

const DATE = '2026-01-02T03:04:05.000Z';

export class BitwardenTestServer {
  readonly https: Server;
  readonly http: Server;
  /** https://127.0.0.1:<port>: what `bw config server` and our settings name. */
  url = '';
  /** http://127.0.0.1:<port>: for @bitwarden/sdk-napi, which speaks plain http to loopback. */
  httpUrl = '';
  readonly requests: RecordedRequest[] = [];
  faults: Fault[] = [];

  readonly bytes: Bytes;
  // The Password Manager account.
  readonly userId: string;
  readonly email: string;
  password: string;
  readonly kdf: Kdf;
  readonly premium: boolean;
  readonly vaultwarden: boolean;
  readonly clientId: string;
  clientSecret: string;
  private readonly userKey: Buffer;
  private readonly protectedUserKey: string;
  private readonly privateKey: string;
  private readonly publicKey: string;
  private readonly ciphers: Cipher[] = [];
  private revision = Date.now();
  // The Secrets Manager organization.
  readonly organizationId: string;
  private readonly orgKey: Buffer;
  private readonly secrets: Secret[] = [];
  private readonly projects = new Map<string, string>();
  private readonly tokens = new Map<string, { clientSecret: string; seed: Buffer; revoked: boolean }>();
  private readonly sessions = new Map<string, Session>();
  private readonly sockets = new Set<Socket>();
  private uuidCounter = 0;

  private constructor(options: UserOptions & { seed?: number }) {
    const random = seededRandom(options.seed ?? 11);
    this.bytes = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
    this.email = options.email ?? 'admin@example.test';
    this.password = options.password ?? 'correct horse battery staple 1';
    this.kdf = options.kdf ?? { type: 0, iterations: 5000 };
    this.premium = options.premium ?? true;
    this.vaultwarden = options.vaultwarden ?? false;
    this.userId = this.uuid();
    this.clientId = `user.${this.userId}`;
    this.clientSecret = this.bytes(15).toString('base64url');
    this.userKey = this.bytes(64);
    this.protectedUserKey = encString(this.userKey, stretch(masterKey(this.password, this.email, this.kdf)), this.bytes);
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.publicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    this.privateKey = encString(pair.privateKey.export({ type: 'pkcs8', format: 'der' }), this.userKey, this.bytes);
    this.organizationId = this.uuid();
    this.orgKey = this.bytes(64);
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const cert = testCert();
    this.https = createHttpsServer({ cert: cert.cert, key: cert.key }, handler);
    this.http = createHttpServer(handler);
    for (const s of [this.https, this.http]) {
      s.on(s === this.https ? 'secureConnection' : 'connection', (socket: Socket) => {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
      });
    }
  }

  /** Starts both listeners on 127.0.0.1, each on a free port. */
  static async start(options: UserOptions & { seed?: number } = {}): Promise<BitwardenTestServer> {
    const server = new BitwardenTestServer(options);
    const listen = (s: Server) => new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
    server.url = `https://127.0.0.1:${await listen(server.https)}`;
    server.httpUrl = `http://127.0.0.1:${await listen(server.http)}`;
    return server;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([this.https, this.http].map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
  }

  /** An outage: both listeners close (connections are refused) and every open connection is cut; `up` ends it. */
  async down(): Promise<void> {
    await this.stop();
  }

  /** Listens again on the same ports, with the same accounts and secrets: the server is back. */
  async up(): Promise<void> {
    const port = (url: string) => Number(new URL(url).port);
    await new Promise<void>((resolve) => this.https.listen(port(this.url), '127.0.0.1', resolve));
    await new Promise<void>((resolve) => this.http.listen(port(this.httpUrl), '127.0.0.1', resolve));
  }

  /** A v4-shaped UUID from the seeded source. */
  uuid(): string {
    const b = this.bytes(16);
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = b.toString('hex');
    this.uuidCounter++;
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** The account's revision date moves to now on every change, as on Bitwarden's server (clients compare it with their last sync). */
  private touch(): number {
    this.revision = Math.max(Date.now(), this.revision + 1);
    return this.revision;
  }

  // ---- Password Manager vault ------------------------------------------------------------------

  addItem(spec: ItemSpec): string {
    const id = spec.id ?? this.uuid();
    const attachments = (spec.attachments ?? []).map((a) => ({ id: a.id ?? this.uuid().replace(/-/g, '').slice(0, 26), fileName: a.fileName, key: this.bytes(64), data: a.data }));
    this.ciphers.push({ spec, id, attachments, revisionDate: new Date(this.touch()).toISOString() });
    return id;
  }

  /** Changes the password of an item (the next sync sees it). */
  setItemPassword(id: string, password: string): void {
    const c = this.ciphers.find((x) => x.id === id)!;
    c.spec = { ...c.spec, login: { ...c.spec.login, password } };
    c.revisionDate = new Date(this.touch()).toISOString();
  }

  private cipherJson(c: Cipher) {
    const e = (v: string | undefined | null) => (v == null ? null : encString(v, this.userKey, this.bytes));
    const s = c.spec;
    const type = s.type ?? 1;
    const login =
      type === 1
        ? {
            username: e(s.login?.username),
            password: e(s.login?.password),
            totp: e(s.login?.totp),
            uris: (s.login?.uris ?? []).map((u) => ({ uri: e(u), uriChecksum: null, match: null })),
            uri: s.login?.uris?.[0] ? e(s.login.uris[0]) : null,
            passwordRevisionDate: null,
            autofillOnPageLoad: null,
            fido2Credentials: [],
          }
        : null;
    return {
      object: 'cipherDetails',
      id: c.id,
      organizationId: null,
      folderId: null,
      type,
      name: e(s.name),
      notes: e(s.notes),
      fields: (s.fields ?? []).map((f) => ({ name: e(f.name), value: e(f.value), type: f.type ?? 1, linkedId: f.linkedId ?? null })),
      login,
      secureNote: type === 2 ? { type: 0 } : null,
      card: null,
      identity: null,
      sshKey: null,
      attachments: c.attachments.length
        ? c.attachments.map((a) => ({
            id: a.id,
            url: `${this.url}/attachments/${c.id}/${a.id}`,
            fileName: e(a.fileName),
            key: encString(a.key, this.userKey, this.bytes),
            size: String(a.data.length),
            sizeName: `${a.data.length} Bytes`,
            object: 'attachment',
          }))
        : null,
      favorite: false,
      reprompt: 0,
      edit: true,
      viewPassword: true,
      permissions: { delete: true, restore: true },
      organizationUseTotp: true,
      collectionIds: [],
      passwordHistory: [],
      revisionDate: c.revisionDate,
      creationDate: DATE,
      deletedDate: s.deleted ? DATE : null,
      archivedDate: null,
      key: null,
    };
  }

  private accountKeys(casing: 'pascal' | 'camel') {
    const pair = { wrappedPrivateKey: this.privateKey, publicKey: this.publicKey, signedPublicKey: null, [casing === 'pascal' ? 'Object' : 'object']: 'publicKeyEncryptionKeyPair' };
    return { publicKeyEncryptionKeyPair: pair, signatureKeyPair: null, securityState: null, [casing === 'pascal' ? 'Object' : 'object']: 'privateKeys' };
  }

  private kdfFields() {
    const k = this.kdf;
    return { kdf: k.type, kdfIterations: k.iterations, kdfMemory: k.type === 1 ? k.memory : null, kdfParallelism: k.type === 1 ? k.parallelism : null };
  }

  private userTokenResponse() {
    const access = this.issue({ kind: 'user', exp: Date.now() + 3600_000 }, { sub: this.userId, email: this.email, email_verified: true, name: 'Test Admin', premium: this.premium, amr: ['Application'], client_id: 'cli', scope: ['api', 'offline_access'] });
    const refresh = this.issueRefresh();
    const k = this.kdfFields();
    const unlock = { Kdf: { KdfType: k.kdf, Iterations: k.kdfIterations, Memory: k.kdfMemory, Parallelism: k.kdfParallelism }, MasterKeyEncryptedUserKey: this.protectedUserKey, MasterKeyWrappedUserKey: this.protectedUserKey, Salt: this.email };
    return {
      access_token: access,
      expires_in: 3600,
      token_type: 'Bearer',
      refresh_token: refresh,
      scope: 'api offline_access',
      Key: this.protectedUserKey,
      PrivateKey: this.privateKey,
      AccountKeys: this.accountKeys('pascal'),
      Kdf: k.kdf,
      KdfIterations: k.kdfIterations,
      KdfMemory: k.kdfMemory,
      KdfParallelism: k.kdfParallelism,
      ResetMasterPassword: false,
      ForcePasswordReset: false,
      MasterPasswordPolicy: { Object: 'masterPasswordPolicy' },
      UserDecryptionOptions: { HasMasterPassword: true, MasterPasswordUnlock: unlock, Object: 'userDecryptionOptions' },
    };
  }

  private syncJson() {
    const k = this.kdfFields();
    return {
      object: 'sync',
      profile: {
        object: 'profile',
        id: this.userId,
        name: 'Test Admin',
        email: this.email,
        emailVerified: true,
        premium: this.premium,
        premiumFromOrganization: false,
        culture: 'en-US',
        twoFactorEnabled: false,
        key: this.protectedUserKey,
        privateKey: this.privateKey,
        accountKeys: this.accountKeys('camel'),
        securityStamp: 'stamp',
        forcePasswordReset: false,
        usesKeyConnector: false,
        avatarColor: null,
        creationDate: DATE,
        verifyDevices: false,
        organizations: [],
        providers: [],
        providerOrganizations: [],
        _status: 0,
      },
      folders: [],
      collections: [],
      ciphers: this.ciphers.map((c) => this.cipherJson(c)),
      domains: null,
      policies: [],
      sends: [],
      userDecryption: {
        masterPasswordUnlock: { kdf: { kdfType: k.kdf, iterations: k.kdfIterations, memory: k.kdfMemory, parallelism: k.kdfParallelism }, masterKeyEncryptedUserKey: this.protectedUserKey, masterKeyWrappedUserKey: this.protectedUserKey, salt: this.email },
      },
    };
  }

  // ---- Secrets Manager -------------------------------------------------------------------------

  addProject(name: string, id = this.uuid()): string {
    this.projects.set(id, name);
    return id;
  }

  addSecret(spec: SecretSpec): string {
    const id = spec.id ?? this.uuid();
    this.secrets.push({ id, key: spec.key, value: Buffer.isBuffer(spec.value) ? spec.value : Buffer.from(spec.value, 'utf8'), note: spec.note ?? '', projects: spec.projects ?? [], revisionDate: new Date(this.touch()).toISOString() });
    return id;
  }

  /** Changes a secret's value (a rotation in Bitwarden). */
  setSecretValue(id: string, value: string | Buffer): void {
    const secret = this.secrets.find((s) => s.id === id)!;
    secret.value = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
    secret.revisionDate = new Date(this.touch()).toISOString();
  }

  removeSecret(id: string): void {
    const i = this.secrets.findIndex((s) => s.id === id);
    if (i >= 0) this.secrets.splice(i, 1);
  }

  /** A new machine-account access token, `0.<id>.<secret>:<base64 seed>`. */
  accessToken(): string {
    const id = this.uuid();
    const clientSecret = this.bytes(22).toString('base64url').replace(/[-_]/g, 'x');
    const seed = this.bytes(16);
    this.tokens.set(id, { clientSecret, seed, revoked: false });
    return `0.${id}.${clientSecret}:${seed.toString('base64')}`;
  }

  revokeAccessToken(token: string): void {
    this.tokens.get(token.split('.')[1]!)!.revoked = true;
  }

  private secretJson(s: Secret, withValue: boolean) {
    const e = (v: string | Buffer) => encString(v, this.orgKey, this.bytes);
    const projects = s.projects.map((id) => ({ id, name: e(this.projects.get(id) ?? 'project') }));
    const base = { id: s.id, organizationId: this.organizationId, key: e(s.key), creationDate: DATE, revisionDate: s.revisionDate, projects };
    return withValue ? { object: 'baseSecret', ...base, value: e(s.value), note: e(s.note) } : { ...base, read: true, write: false };
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private issue(session: Session, claims: Record<string, unknown>): string {
    const token = jwt({ nbf: Math.floor(Date.now() / 1000) - 5, exp: Math.floor(session.exp / 1000), iss: `${this.url}/identity`, ...claims, jti: randomUUID() });
    this.sessions.set(token, session);
    return token;
  }

  private issueRefresh(): string {
    const token = this.bytes(32).toString('base64url');
    this.sessions.set(`refresh:${token}`, { kind: 'user', exp: Date.now() + 86400_000 });
    return token;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const body = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => resolve(Buffer.concat(chunks)));
    });
    const form = (req.headers['content-type'] ?? '').includes('x-www-form-urlencoded') ? new URLSearchParams(body.toString('utf8')) : undefined;
    this.requests.push({ method: req.method ?? '', path, ...(form?.get('grant_type') ? { grant: form.get('grant_type')! } : {}), ...(form?.get('scope') ? { scope: form.get('scope')! } : {}), at: Date.now() });

    const line = `${req.method} ${path}`;
    const fault = this.faults.find((f) => f.match.test(line) && (f.times === undefined || f.times > 0));
    if (fault) {
      if (fault.times !== undefined) fault.times--;
      if (fault.kind === 'silent') return; // the connection stays open, and nothing is ever sent
      if (fault.kind === 'reset') return void req.socket.destroy();
      if (fault.kind === '429') return this.json(res, 429, { message: 'Slow down! Too many requests. Try again in 60s.', validationErrors: null, exceptionMessage: null, exceptionStackTrace: null, innerExceptionMessage: null, object: 'error' }, { 'retry-after': '60' });
      return this.json(res, 500, { message: 'An error has occurred.', object: 'error' });
    }
    try {
      await this.route(req.method ?? 'GET', path, url, body, form, req, res);
    } catch (error) {
      this.json(res, 500, { message: `test server error: ${(error as Error).message}`, object: 'error' });
    }
  }

  private json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private bearer(req: IncomingMessage): Session | undefined {
    const auth = req.headers.authorization ?? '';
    const session = auth.startsWith('Bearer ') ? this.sessions.get(auth.slice(7)) : undefined;
    return session && session.exp > Date.now() ? session : undefined;
  }

  private async route(method: string, path: string, url: URL, body: Buffer, form: URLSearchParams | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const unauthorized = () => this.json(res, 401, { message: 'Unauthorized', object: 'error' });
    const notFound = () => this.json(res, 404, { message: 'Resource not found.', validationErrors: null, object: 'error' });
    const m = (re: RegExp) => (re.test(path) ? path.match(re)! : null);

    // --- identity
    if (method === 'POST' && (path === '/identity/accounts/prelogin' || path === '/identity/accounts/prelogin/password')) {
      const k = this.kdfFields();
      return this.json(res, 200, { ...k, kdfSettings: { kdfType: k.kdf, iterations: k.kdfIterations, memory: k.kdfMemory, parallelism: k.kdfParallelism }, salt: this.email });
    }
    if (method === 'POST' && path === '/identity/connect/token' && form) return this.token(form, res);

    // --- the vault API
    if (method === 'GET' && path === '/api/config') {
      const base = this.url;
      return this.json(res, 200, {
        object: 'config',
        version: '2026.6.0',
        gitHash: 'test0000',
        server: null,
        environment: { cloudRegion: null, vault: base, api: `${base}/api`, identity: `${base}/identity`, notifications: `${base}/notifications`, sso: '' },
        featureStates: {},
        push: { pushTechnology: 0, vapidPublicKey: null },
        communication: null,
        settings: { disableUserRegistration: false, suppressOnboardingInterstitials: false },
      });
    }
    if (method === 'GET' && path === '/api/accounts/revision-date') {
      if (this.bearer(req)?.kind !== 'user') return unauthorized();
      return this.json(res, 200, this.revision);
    }
    if (method === 'GET' && path === '/api/sync') {
      if (this.bearer(req)?.kind !== 'user') return unauthorized();
      return this.json(res, 200, this.syncJson());
    }
    let match = m(/^\/api\/ciphers\/([0-9a-f-]+)\/attachment\/([0-9a-z]+)$/);
    if (method === 'GET' && match) {
      if (this.bearer(req)?.kind !== 'user') return unauthorized();
      const c = this.ciphers.find((x) => x.id === match![1]);
      const a = c?.attachments.find((x) => x.id === match![2]);
      if (!c || !a) return notFound();
      return this.json(res, 200, { id: a.id, url: `${this.url}/attachments/${c.id}/${a.id}`, fileName: encString(a.fileName, this.userKey, this.bytes), key: encString(a.key, this.userKey, this.bytes), size: String(a.data.length), sizeName: `${a.data.length} Bytes`, object: 'attachment' });
    }
    match = m(/^\/attachments\/([0-9a-f-]+)\/([0-9a-z]+)$/);
    if (method === 'GET' && match) {
      const a = this.ciphers.find((x) => x.id === match![1])?.attachments.find((x) => x.id === match![2]);
      if (!a) return notFound();
      const data = encArrayBuffer(a.data, a.key, this.bytes);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
      return void res.end(data);
    }

    // --- Secrets Manager
    const sm = () => {
      const s = this.bearer(req);
      return s?.kind === 'sm' && !this.tokens.get(s.tokenId)?.revoked ? s : undefined;
    };
    match = m(/^\/api\/organizations\/([0-9a-f-]+)\/secrets$/);
    if (method === 'GET' && match) {
      if (!sm()) return unauthorized();
      if (match[1] !== this.organizationId) return notFound();
      return this.json(res, 200, this.listJson(this.secrets));
    }
    match = m(/^\/api\/projects\/([0-9a-f-]+)\/secrets$/);
    if (method === 'GET' && match) {
      if (!sm()) return unauthorized();
      if (!this.projects.has(match[1]!)) return notFound();
      return this.json(res, 200, this.listJson(this.secrets.filter((s) => s.projects.includes(match![1]!))));
    }
    if (method === 'POST' && path === '/api/secrets/get-by-ids') {
      if (!sm()) return unauthorized();
      const ids = (JSON.parse(body.toString('utf8')) as { ids: string[] }).ids;
      const found = this.secrets.filter((s) => ids.includes(s.id));
      // As Bitwarden's server does: any id missing, and the whole batch is refused.
      if (found.length === 0 || found.length !== ids.length) return notFound();
      return this.json(res, 200, { object: 'list', data: found.map((s) => this.secretJson(s, true)), continuationToken: null });
    }
    match = m(/^\/api\/secrets\/([0-9a-f-]+)$/);
    if (method === 'GET' && match) {
      if (!sm()) return unauthorized();
      const s = this.secrets.find((x) => x.id === match![1]);
      if (!s) return notFound();
      return this.json(res, 200, { ...this.secretJson(s, true), object: 'secret', read: true, write: false });
    }
    return notFound();
  }

  private listJson(secrets: Secret[]) {
    const projectIds = [...new Set(secrets.flatMap((s) => s.projects))];
    return { object: 'SecretsWithProjectsList', secrets: secrets.map((s) => this.secretJson(s, false)), projects: projectIds.map((id) => ({ id, name: encString(this.projects.get(id) ?? 'project', this.orgKey, this.bytes) })) };
  }

  private token(form: URLSearchParams, res: ServerResponse): void {
    const grant = form.get('grant_type');
    const invalidClient = () => this.json(res, 400, { error: 'invalid_client' });
    if (grant === 'client_credentials' && form.get('scope') === 'api.secrets' && this.vaultwarden) {
      // Vaultwarden's answer to a scope it does not serve (src/api/identity.rs: err!("Scope not supported")).
      return this.json(res, 400, { error: '', error_description: '', message: 'Scope not supported', validationErrors: { '': ['Scope not supported'] }, ErrorModel: { Message: 'Scope not supported', Object: 'error' }, ExceptionMessage: null, ExceptionStackTrace: null, InnerExceptionMessage: null, Object: 'error', object: 'error' });
    }
    if (grant === 'client_credentials' && form.get('scope') === 'api.secrets') {
      const t = this.tokens.get(form.get('client_id') ?? '');
      if (!t || t.revoked || t.clientSecret !== form.get('client_secret')) return invalidClient();
      const tokenId = form.get('client_id')!;
      const access = this.issue({ kind: 'sm', tokenId, exp: Date.now() + 3600_000 }, { sub: tokenId, client_id: tokenId, client_sub: tokenId, organization: this.organizationId, type: 'ServiceAccount', scope: ['api.secrets'] });
      const payload = encString(JSON.stringify({ encryptionKey: this.orgKey.toString('base64') }), accessTokenKey(t.seed), this.bytes);
      return this.json(res, 200, { access_token: access, expires_in: 3600, token_type: 'Bearer', scope: 'api.secrets', encrypted_payload: payload });
    }
    if (grant === 'client_credentials' && form.get('scope') === 'api') {
      if (form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret) return invalidClient();
      return this.json(res, 200, this.userTokenResponse());
    }
    if (grant === 'password') {
      const expected = masterPasswordHash(masterKey(this.password, this.email, this.kdf), this.password);
      if (form.get('username')?.toLowerCase() !== this.email || form.get('password') !== expected) {
        return this.json(res, 400, { error: 'invalid_grant', error_description: 'invalid_username_or_password', ErrorModel: { Message: 'Username or password is incorrect. Try again.', Object: 'error' } });
      }
      return this.json(res, 200, this.userTokenResponse());
    }
    if (grant === 'refresh_token') {
      const token = form.get('refresh_token') ?? '';
      if (!this.sessions.has(`refresh:${token}`)) return this.json(res, 400, { error: 'invalid_grant' });
      const access = this.issue({ kind: 'user', exp: Date.now() + 3600_000 }, { sub: this.userId, email: this.email, email_verified: true, name: 'Test Admin', premium: this.premium, amr: ['Application'], client_id: 'cli' });
      return this.json(res, 200, { access_token: access, expires_in: 3600, token_type: 'Bearer', refresh_token: token, scope: 'api offline_access' });
    }
    return this.json(res, 400, { error: 'unsupported_grant_type' });
  }
}
