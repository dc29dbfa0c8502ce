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
}

export interface TokenDecoderCapabilities {
  /** The decoder is configured with an expected issuer and audience, and `issuerWith` is provided. */
  issuerAndAudience?: boolean;
  /** The decoder fetches its keys (remote JWKS), and `stopKeySource` is provided. */
  remoteKeySource?: boolean;
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
    refusalTests(setup);
    configuredChecksTests(setup, capabilities);
    lifecycleTests(setup);
  });
}
