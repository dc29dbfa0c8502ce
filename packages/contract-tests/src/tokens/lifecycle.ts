import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import type { TokenDecoderSetup } from "./index.js";

export function lifecycleTests(setup: () => TokenDecoderSetup): void {
  describe("cancellation and close", () => {
    it("rejects with CANCELLED when the signal has already fired", async () => {
      const token = await setup().issuer.issue({ subject: "cancelled" });
      await expectErrorCode(setup().decoder.decode(token, { signal: AbortSignal.abort() }), "CANCELLED");
    });

    it("close is idempotent and decode after close fails with CLOSED", async () => {
      const token = await setup().issuer.issue({ subject: "closing" });
      const { decoder } = setup();
      expect((await decoder.decode(token)).subject).toBe("closing");
      await decoder.close();
      await decoder.close();
      await expectErrorCode(decoder.decode(token), "CLOSED");
    });

    it("Symbol.asyncDispose closes the decoder", async () => {
      const token = await setup().issuer.issue({ subject: "disposed" });
      const { decoder } = setup();
      await decoder[Symbol.asyncDispose]();
      await expectErrorCode(decoder.decode(token), "CLOSED");
    });
  });
}
