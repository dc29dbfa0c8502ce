import { createMemoryTokenAuthority } from "@proj/adapter-memory";
import { tokenDecoderContract } from "../src/index.js";

tokenDecoderContract("memory", {
  create: async () => {
    const { issuer, decoder } = createMemoryTokenAuthority({ maxTokenBytes: 4096 });
    return { issuer, decoder, untrustedIssuer: createMemoryTokenAuthority().issuer, maxTokenBytes: 4096 };
  },
});
