import { tokenDecoderContract } from "@proj/contract-tests";
import { createJwtTokenDecoder } from "../src/index.js";
import { JwksServer, joseIssuer, keyPair, randomSecret, rawSigner } from "./support.js";

const maxTokenBytes = 4096;
// Key generation is slow (RSA above all): one set of keys serves every fresh decoder.
const rsa = Promise.all([keyPair("RS256"), keyPair("RS256")]);
const local = Promise.all([keyPair("ES256", "es-1"), keyPair("EdDSA", "ed-1"), keyPair("ES256")]);
const remote = Promise.all([keyPair("ES384", "remote-1"), keyPair("ES384", "remote-1")]);

const maxTokenAgeSeconds = 3600;

tokenDecoderContract("jwt HS256 secret with typ and maximum age", {
  capabilities: { signsRawTokens: true, checksType: true, maxTokenAge: true },
  create: async () => {
    const secret = randomSecret();
    return {
      decoder: createJwtTokenDecoder({
        algorithms: ["HS256"],
        secret,
        type: "JWT",
        maxTokenAgeSeconds,
        maxTokenBytes,
      }),
      issuer: joseIssuer(new TextEncoder().encode(secret), "HS256"),
      signRaw: rawSigner(new TextEncoder().encode(secret), "HS256"),
      maxTokenAgeSeconds,
      untrustedIssuer: joseIssuer(new TextEncoder().encode(randomSecret()), "HS256"),
      maxTokenBytes,
    };
  },
});

tokenDecoderContract("jwt RS256 PEM with issuer, audience and the cache", {
  capabilities: { issuerAndAudience: true, signsRawTokens: true },
  create: async () => {
    const [trusted, other] = await rsa;
    const registered = { iss: "https://id.example", aud: "orders-api" };
    return {
      decoder: createJwtTokenDecoder({
        algorithms: ["RS256"],
        publicKeys: [trusted.publicPem],
        issuer: registered.iss,
        audience: registered.aud,
        cache: true,
        maxTokenBytes,
      }),
      issuer: joseIssuer(trusted.privateKey, "RS256", {}, registered),
      untrustedIssuer: joseIssuer(other.privateKey, "RS256", {}, registered),
      issuerWith: (changed) => joseIssuer(trusted.privateKey, "RS256", {}, { ...registered, ...changed }),
      signRaw: rawSigner(trusted.privateKey, "RS256", {}, registered),
      maxTokenBytes,
    };
  },
});

tokenDecoderContract("jwt ES256 and EdDSA local JWKS", {
  capabilities: { signsRawTokens: true, keyIds: true },
  create: async () => {
    const [es, ed, stranger] = await local;
    return {
      decoder: createJwtTokenDecoder({
        algorithms: ["ES256", "EdDSA"],
        jwks: { keys: [es.publicJwk, ed.publicJwk] },
        maxTokenBytes,
      }),
      issuer: joseIssuer(es.privateKey, "ES256", { kid: "es-1" }),
      signRaw: rawSigner(es.privateKey, "ES256", { kid: "es-1" }),
      untrustedIssuer: joseIssuer(stranger.privateKey, "ES256", { kid: "es-1" }),
      maxTokenBytes,
    };
  },
});

const servers = new WeakMap<object, JwksServer>();
tokenDecoderContract("jwt ES384 remote JWKS", {
  capabilities: { remoteKeySource: true, signsRawTokens: true, keyIds: true },
  destroy: async (setup) => servers.get(setup)?.stop(),
  create: async () => {
    const [trusted, stranger] = await remote;
    const server = await new JwksServer().start();
    server.keys = [trusted.publicJwk];
    const setup = {
      decoder: createJwtTokenDecoder({ algorithms: ["ES384"], jwksUrl: `${server.url}/jwks`, maxTokenBytes }),
      issuer: joseIssuer(trusted.privateKey, "ES384", { kid: "remote-1" }),
      signRaw: rawSigner(trusted.privateKey, "ES384", { kid: "remote-1" }),
      untrustedIssuer: joseIssuer(stranger.privateKey, "ES384", { kid: "remote-1" }),
      stopKeySource: () => server.stop(),
      maxTokenBytes,
    };
    servers.set(setup, server);
    return setup;
  },
});
