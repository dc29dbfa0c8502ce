import type { TokenDecoder, TokenIssuer } from "@proj/ports";
import { describe } from "vitest";
import { useFreshAdapter } from "../harness.js";
import { acceptanceTests } from "./acceptance.js";
import { configuredChecksTests } from "./configured.js";
import { lifecycleTests } from "./lifecycle.js";
import { refusalTests } from "./refusals.js";

export { expectRefusal } from "./refusals.js";

/** A decoder under test and the issuers the suite signs its tokens with. */
export interface TokenDecoderSetup {
  decoder: TokenDecoder;
  /** Issues tokens the decoder trusts (right key, issuer, audience, type). */
  issuer: TokenIssuer;
  /** Issues otherwise valid tokens under a key the decoder does not trust. */
  untrustedIssuer: TokenIssuer;
  /** The decoder's size limit: the suite presents a token just over it and expects `too_large`. */
  maxTokenBytes: number;
  /**
   * With `capabilities.issuerAndAudience`: an issuer signing with the trusted key but writing these
   * `iss`/`aud` values instead of the ones the decoder expects.
   */
  issuerWith?(registered: { iss?: string; aud?: string }): TokenIssuer;
  /** With `capabilities.remoteKeySource`: makes the key source unreachable (stops the JWKS server). */
  stopKeySource?(): Promise<void>;
  /**
   * With `capabilities.signsRawTokens`: a token signed with the trusted key over exactly `claims`
   * (plus the `iss`/`aud` the decoder expects, when the claims name none), under the trusted header
   * (`alg`, `kid`, `typ`) with `header`'s members added or replacing them.
   */
  signRaw?(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  /** With `capabilities.maxTokenAge`: the age (from `iat`) beyond which the decoder refuses a token. */
  maxTokenAgeSeconds?: number;
}

export interface TokenDecoderCapabilities {
  /** The decoder is configured with an expected issuer and audience, and `issuerWith` is provided. */
  issuerAndAudience?: boolean;
  /** The decoder fetches its keys (remote JWKS), and `stopKeySource` is provided. */
  remoteKeySource?: boolean;
  /**
   * `signRaw` is provided, so the suite can sign claims and headers no `TokenIssuer` writes (an `iat`
   * in the future, a missing `sub`, a `crit` header). Without it the refusals that need such tokens
   * are skipped.
   */
  signsRawTokens?: boolean;
  /** The decoder requires one `typ` header and the trusted one carries it (needs `signsRawTokens`). */
  checksType?: boolean;
  /** The decoder refuses tokens older than `maxTokenAgeSeconds` (needs `signsRawTokens`). */
  maxTokenAge?: boolean;
  /** The trusted keys carry key ids, so a token naming another `kid` has no key (needs `signsRawTokens`). */
  keyIds?: boolean;
}

export interface TokenDecoderHarness {
  /** A fresh decoder with its issuers. The suite closes the decoder after each test. */
  create(): Promise<TokenDecoderSetup>;
  /** What this decoder's configuration allows the suite to test; absent ones are skipped visibly. */
  capabilities?: TokenDecoderCapabilities;
  /** Releases what `create` started beyond the decoder (a JWKS server). */
  destroy?(setup: TokenDecoderSetup): Promise<void>;
}

/** Registers the `TokenDecoder` contract (packages/ports/src/tokens.ts) against an adapter. */
export function tokenDecoderContract(name: string, harness: TokenDecoderHarness): void {
  describe(`${name}: TokenDecoder contract`, () => {
    const setup = useFreshAdapter({
      create: async () => {
        const created = await harness.create();
        return {
          ...created,
          close: async () => {
            await created.decoder.close();
            await harness.destroy?.(created);
          },
        };
      },
    });
    const capabilities = harness.capabilities ?? {};
    acceptanceTests(setup);
    refusalTests(setup, capabilities);
    configuredChecksTests(setup, capabilities);
    lifecycleTests(setup);
  });
}
