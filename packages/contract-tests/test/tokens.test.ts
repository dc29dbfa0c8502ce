import { createHmac, randomBytes } from "node:crypto";
import { createMemoryTokenAuthority } from "@proj/adapter-memory";
import { tokenDecoderContract } from "../src/index.js";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

tokenDecoderContract("memory", {
  capabilities: { signsRawTokens: true, checksType: true },
  create: async () => {
    const secret = randomBytes(32);
    const { issuer, decoder } = createMemoryTokenAuthority({ secret, maxTokenBytes: 4096 });
    return {
      issuer,
      decoder,
      untrustedIssuer: createMemoryTokenAuthority().issuer,
      maxTokenBytes: 4096,
      async signRaw(claims, header = {}) {
        const input = `${b64({ alg: "HS256", typ: "JWT", ...header })}.${b64(claims)}`;
        return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
      },
    };
  },
});
