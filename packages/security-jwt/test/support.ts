import { createHmac, randomBytes, webcrypto } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TokenClaims, TokenIssuer } from "@proj/ports";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from "jose";
import type { JwtPublicJwk } from "../src/index.js";

export type SigningKey = Parameters<SignJWT["sign"]>[0];

export interface KeyPair {
  alg: string;
  privateKey: SigningKey;
  publicPem: string;
  publicJwk: JwtPublicJwk;
}

export async function keyPair(
  alg: "RS256" | "PS256" | "ES256" | "ES384" | "EdDSA",
  kid?: string,
): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const exported = await exportJWK(publicKey);
  const publicJwk: JwtPublicJwk = { ...exported, kty: exported.kty ?? "" };
  if (kid !== undefined) publicJwk.kid = kid;
  return { alg, privateKey, publicPem: await exportSPKI(publicKey), publicJwk };
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A TokenIssuer signing with jose, writing the claims the decoder maps by default. */
export function joseIssuer(
  key: SigningKey,
  alg: string,
  header: Record<string, unknown> = {},
  registered: { iss?: string; aud?: string } = {},
): TokenIssuer {
  return {
    async issue(claims: TokenClaims): Promise<string> {
      const now = nowSeconds();
      const payload: Record<string, unknown> = {
        ...claims.extra,
        ...registered,
        sub: claims.subject,
        iat: now,
        exp: now + (claims.expiresInSeconds ?? 3600),
      };
      if (claims.notBeforeInSeconds !== undefined) payload.nbf = now + claims.notBeforeInSeconds;
      if (claims.tenantId !== undefined) payload.tenant_id = claims.tenantId;
      if (claims.roles !== undefined) payload.roles = [...claims.roles];
      if (claims.scopes !== undefined) payload.scope = claims.scopes.join(" ");
      return new SignJWT(payload).setProtectedHeader({ alg, typ: "JWT", ...header }).sign(key);
    },
  };
}

export const b64 = (value: unknown): string =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** An HS* token over arbitrary header and payload text, for shapes jose refuses to produce. */
export function hmacToken(
  secret: string | Uint8Array,
  header: unknown,
  payload: unknown,
  hash = "sha256",
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest("base64url")}`;
}

const WEBCRYPTO_SIGNING: Record<string, Parameters<typeof webcrypto.subtle.sign>[0]> = {
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  ES256: { name: "ECDSA", hash: "SHA-256" },
  ES384: { name: "ECDSA", hash: "SHA-384" },
  EdDSA: { name: "Ed25519" },
};

/**
 * The contract's `signRaw`: signs exactly the given claims (plus `registered` unless overridden)
 * under `{ alg, typ: "JWT", ...baseHeader, ...header }`, with no check of what they say, so the suite
 * can present tokens jose would refuse to build (a `crit` it does not know, a numeric `sub`).
 */
export function rawSigner(
  key: SigningKey,
  alg: string,
  baseHeader: Record<string, unknown> = {},
  registered: Record<string, unknown> = {},
) {
  return async (claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> => {
    const input = `${b64({ alg, typ: "JWT", ...baseHeader, ...header })}.${b64({ ...registered, ...claims })}`;
    if (key instanceof Uint8Array) {
      return `${input}.${createHmac(`sha${alg.slice(2)}`, key)
        .update(input)
        .digest("base64url")}`;
    }
    const algorithm = WEBCRYPTO_SIGNING[alg];
    if (algorithm === undefined) throw new Error(`rawSigner does not sign ${alg}`);
    const signature = await webcrypto.subtle.sign(
      algorithm,
      key as webcrypto.CryptoKey,
      new TextEncoder().encode(input),
    );
    return `${input}.${Buffer.from(signature).toString("base64url")}`;
  };
}

export const randomSecret = (bytes = 32) => randomBytes(bytes).toString("base64url");

/** A JWKS endpoint on 127.0.0.1 whose keys the test swaps, counting every request it answers. */
export class JwksServer {
  keys: (JWK | JwtPublicJwk)[] = [];
  /** Answered instead of the key set while set: a failing endpoint. */
  failWith: number | undefined;
  /** Added to the key set as an unknown member, to make the answer this many bytes larger. */
  paddingBytes = 0;
  /** While set: the headers and this many bytes of the body are sent, then the answer stalls. */
  stallAfterBytes: number | undefined;
  requests = 0;
  /** When each request arrived (`Date.now()`), to check how fetches are spaced. */
  readonly requestTimes: number[] = [];
  readonly paths: string[] = [];
  #server: Server | undefined;
  url = "";

  async start(port = 0): Promise<this> {
    this.#server = createServer((request: IncomingMessage, response: ServerResponse) => {
      this.requests++;
      this.requestTimes.push(Date.now());
      this.paths.push(request.url ?? "");
      if (request.url?.startsWith("/jwks") !== true) {
        response.writeHead(404).end();
        return;
      }
      if (this.failWith !== undefined) {
        response.writeHead(this.failWith).end();
        return;
      }
      const padding = this.paddingBytes > 0 ? { padding: "x".repeat(this.paddingBytes) } : {};
      const body = Buffer.from(JSON.stringify({ keys: this.keys, ...padding }));
      if (this.stallAfterBytes !== undefined) {
        response.writeHead(200, { "content-type": "application/json", "content-length": body.length });
        response.write(body.subarray(0, this.stallAfterBytes));
        return;
      }
      response.writeHead(200, { "content-type": "application/json" }).end(body);
    });
    await new Promise<void>((resolve) => this.#server?.listen(port, "127.0.0.1", resolve));
    const address = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
