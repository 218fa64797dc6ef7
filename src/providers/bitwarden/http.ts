// The Secrets Manager client's only way onto the network: one HTTPS request with a deadline (the
// per-call timeout and the run's signal, whichever fires first), a cap on the answer's size, and
// failures turned into provider error kinds in one place. node:https rather than fetch: it loads
// faster, and nothing about the request (proxies aside) is left to a library's defaults.
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { rootCertificates } from 'node:tls';
import { readFileSync } from 'node:fs';
import { ProviderError } from '../../errors.js';
import { DeadlineError, formatSeconds, neverSent, withDeadline } from '../network.js';

const NAME = 'bitwarden';

export interface HttpAnswer {
  status: number;
  body: Buffer;
  /** `Retry-After`, when the server sent one (for the message of a 429). */
  retryAfter?: string;
}

export interface HttpOptions {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** What the call is, for messages: `login to https://identity.bitwarden.com`. */
  what: string;
  /** Extra CA certificates (PEM), added to Node's own. */
  ca?: Buffer;
  maxBytes?: number;
}

let cachedCa: { file: string; ca: (string | Buffer)[] } | undefined;
/** Node's CAs plus those of `file` (a self-hosted server's private CA). */
export function caWith(file: string): (string | Buffer)[] {
  if (cachedCa?.file !== file) cachedCa = { file, ca: [...rootCertificates, readFileSync(file)] };
  return cachedCa.ca;
}

/** One request; resolves with any HTTP status, rejects with a ProviderError (unavailable) when no answer came. */
export async function httpCall(url: string, options: HttpOptions): Promise<HttpAnswer> {
  try {
    return await withDeadline((signal) => send(url, options, signal), options.timeoutMs, options.signal, options.what);
  } catch (error) {
    if (error instanceof DeadlineError) throw new ProviderError(NAME, 'unavailable', error.message.includes("run's deadline") ? error.message : `${options.what}: no answer in ${formatSeconds(options.timeoutMs)} (the server accepted the connection but did not reply)`, { cause: error });
    if (error instanceof ProviderError) throw error;
    throw new ProviderError(NAME, 'unavailable', `${options.what}: ${networkReason(error)}`, { notSent: neverSent(error) });
  }
}

function send(url: string, options: HttpOptions, signal: AbortSignal): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (body) headers['content-length'] = String(body.length);
    const requestOptions: RequestOptions = { method: options.method, headers, signal, ...(options.ca ? { ca: options.ca as never } : {}) };
    const req = (u.protocol === 'http:' ? httpRequest : httpsRequest)(u, requestOptions, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const max = options.maxBytes ?? 64 * 1024 * 1024;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > max) {
          req.destroy();
          reject(new ProviderError(NAME, 'corrupt', `${options.what}: the answer is larger than ${max} bytes`));
        } else chunks.push(d);
      });
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ...(typeof retryAfter === 'string' ? { retryAfter } : {}) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A network failure in words (code and what it means), never the request or its body. */
export function networkReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the server running, and is the URL right?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the server's name does not resolve (${code}; is the network up?)`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `the connection was closed by the server (${code})`;
    case 'ETIMEDOUT':
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return `the server cannot be reached (${code})`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_HAS_EXPIRED':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the server's TLS certificate is not trusted (${code}; for a private CA set providers.bitwarden.caFile)`;
    default:
      return code ? `network error (${code})` : `network error (${(error as Error)?.name ?? 'unknown'})`;
  }
}
