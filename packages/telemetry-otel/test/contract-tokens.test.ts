import { createHmac, randomBytes } from "node:crypto";
import { createMemoryTokenAuthority } from "@proj/adapter-memory";
import { tokenDecoderContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { instrumentTokenDecoder } from "../src/index.js";
import { expectSpansRecordedAndClosed } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

tokenDecoderContract("adapter-memory tokens through instrumentTokenDecoder", {
  capabilities: { signsRawTokens: true, checksType: true },
  create: async () => {
    const secret = randomBytes(32);
    const { issuer, decoder } = createMemoryTokenAuthority({ secret, maxTokenBytes: 4096 });
    return {
      issuer,
      decoder: instrumentTokenDecoder(decoder, telemetry.options),
      untrustedIssuer: createMemoryTokenAuthority().issuer,
      maxTokenBytes: 4096,
      async signRaw(claims, header = {}) {
        const input = `${b64({ alg: "HS256", typ: "JWT", ...header })}.${b64(claims)}`;
        return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
      },
    };
  },
});
expectSpansRecordedAndClosed(telemetry, "TokenDecoder");

afterAll(() => telemetry.shutdown());
