import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import type { TokenDecoderCapabilities, TokenDecoderSetup } from "./index.js";
import { expectRefusal } from "./refusals.js";

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the harness declares the capability but provides no ${what}`);
  return value;
}

export function configuredChecksTests(
  setup: () => TokenDecoderSetup,
  capabilities: TokenDecoderCapabilities,
): void {
  describe("configured issuer, audience and key source", () => {
    it.skipIf(!capabilities.issuerAndAudience)(
      "refuses a token from another issuer as wrong_issuer",
      async () => {
        const issuerWith = required(setup().issuerWith, "issuerWith").bind(setup());
        const token = await issuerWith({ iss: "https://impostor.example" }).issue({ subject: "x" });
        await expectRefusal(setup().decoder.decode(token), "wrong_issuer", token);
      },
    );

    it.skipIf(!capabilities.issuerAndAudience)(
      "refuses a token for another audience as wrong_audience",
      async () => {
        const issuerWith = required(setup().issuerWith, "issuerWith").bind(setup());
        const token = await issuerWith({ aud: "someone-else" }).issue({ subject: "x" });
        await expectRefusal(setup().decoder.decode(token), "wrong_audience", token);
      },
    );

    it.skipIf(!capabilities.issuerAndAudience)("reports the issuer of an accepted token", async () => {
      const principal = await setup().decoder.decode(await setup().issuer.issue({ subject: "x" }));
      expect(typeof principal.issuer).toBe("string");
    });

    it.skipIf(!capabilities.remoteKeySource)(
      "is UNAVAILABLE, never an acceptance, when the key source cannot be reached",
      async () => {
        const token = await setup().issuer.issue({ subject: "x" });
        await required(setup().stopKeySource, "stopKeySource").call(setup());
        const error = await expectErrorCode(setup().decoder.decode(token), "UNAVAILABLE");
        expect(error.retryable).toBe(true);
        expect(error.message).not.toContain(token);
      },
    );
  });
}
