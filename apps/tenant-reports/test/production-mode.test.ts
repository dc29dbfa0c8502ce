import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryTokenAuthority } from "@proj/adapter-memory";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComposedService, composeService } from "../src/composition/compose.js";
import { loadConfig } from "../src/composition/config.js";

describe("a composition with JWT_SECRET (no development mode)", () => {
  const secret = "a-32-byte-secret-for-hs256-only!";
  let dataDir: string;
  let service: ComposedService;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-prod-"));
    service = await composeService(
      loadConfig({ DATA_DIR: dataDir, JWT_SECRET: secret, NODE_ENV: "production" }),
    );
  });

  afterAll(async () => {
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts with a 32-byte secret and accepts tokens signed with it", async () => {
    expect(service.devIssuer).toBeUndefined();
    const token = await createMemoryTokenAuthority({ secret }).issuer.issue({
      subject: "ops",
      roles: ["admin"],
    });
    const response = await service.http.inject({
      method: "GET",
      url: "/tenants",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.statusCode).toBe(200);
  });

  it("has no development routes", async () => {
    const token = await createMemoryTokenAuthority({ secret }).issuer.issue({
      subject: "ops",
      roles: ["admin"],
    });
    const headers = { authorization: `Bearer ${token}` };
    expect(
      (await service.http.inject({ method: "POST", url: "/dev/tokens", headers, payload: { subject: "x" } }))
        .statusCode,
    ).toBe(404);
    expect(
      (await service.http.inject({ method: "POST", url: "/orders/sample", headers, payload: { count: 1 } }))
        .statusCode,
    ).toBe(404);
  });

  it("refuses tokens signed with another key", async () => {
    const token = await createMemoryTokenAuthority().issuer.issue({ subject: "intruder", roles: ["admin"] });
    const response = await service.http.inject({
      method: "GET",
      url: "/tenants",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ error: "UNAUTHENTICATED", reason: "bad_signature" });
  });

  it("refuses to start in development mode under NODE_ENV=production", () => {
    expect(() => loadConfig({ DATA_DIR: dataDir, NODE_ENV: "production" })).toThrow(/NODE_ENV=production/);
  });

  it("requires issuer and audience with a JWKS URL, and known algorithms", () => {
    expect(() => loadConfig({ JWT_JWKS_URL: "https://id.example/jwks", JWT_ALGORITHMS: "HS256" })).toThrow(
      /JWT_ALGORITHMS[\s\S]*JWT_ISSUER and JWT_AUDIENCE/,
    );
  });
});
