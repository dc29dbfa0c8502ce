import { describe, expect, it } from "vitest";
import { ConfigurationError, loadConfig } from "../src/composition/config.js";

describe("configuration", () => {
  it("defaults to embedded PGlite, a local folder, a memory cache and a development key", () => {
    const config = loadConfig({ DATA_DIR: "/tmp/tr-data" });
    expect(config.database).toEqual({ kind: "pglite", dataDir: "/tmp/tr-data/pglite" });
    expect(config.storage).toEqual({ kind: "local", root: "/tmp/tr-data/storage" });
    expect(config.cache).toEqual({ kind: "memory", maxEntries: 10_000 });
    expect(config.tokens).toEqual({ kind: "development", keyFile: "/tmp/tr-data/dev-jwt-secret" });
    expect(config.port).toBe(3000);
  });

  it("selects adapters from URLs", () => {
    const config = loadConfig({
      DATABASE_URL: "mysql://root@127.0.0.1:3306/test",
      STORAGE_URL: "s3://reports?endpoint=http://127.0.0.1:9000&forcePathStyle=true&region=auto",
      CACHE_URL: "redis://127.0.0.1:6379",
      JWT_SECRET: "x".repeat(32),
      JWT_ISSUER: "https://id.example",
      AWS_ACCESS_KEY_ID: "key",
      AWS_SECRET_ACCESS_KEY: "secret",
    });
    expect(config.database).toEqual({ kind: "mysql", url: "mysql://root@127.0.0.1:3306/test" });
    expect(config.storage).toMatchObject({
      kind: "s3",
      bucket: "reports",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
      region: "auto",
    });
    expect(config.cache).toMatchObject({ kind: "redis", url: "redis://127.0.0.1:6379" });
    expect(config.tokens).toMatchObject({ kind: "secret", issuer: "https://id.example" });
  });

  it("reports every problem at once, naming the variable", () => {
    let caught: unknown;
    try {
      loadConfig({
        DATABASE_URL: "oracle://db",
        STORAGE_URL: "r2://",
        CACHE_URL: "memcached://x",
        JWT_SECRET: "short",
        PORT: "http",
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    const problems = (caught as ConfigurationError).problems.join("\n");
    for (const name of ["DATABASE_URL", "STORAGE_URL", "R2_ACCESS_KEY_ID", "CACHE_URL", "JWT_SECRET", "PORT"])
      expect(problems).toContain(name);
  });
});
