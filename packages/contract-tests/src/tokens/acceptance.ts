import { describe, expect, it } from "vitest";
import type { TokenDecoderSetup } from "./index.js";

export function acceptanceTests(setup: () => TokenDecoderSetup): void {
  describe("valid tokens", () => {
    it("returns the principal of a valid token: subject, tenant, roles, scopes, expiry and claims", async () => {
      const before = Math.floor(Date.now() / 1000);
      const token = await setup().issuer.issue({
        subject: "user-42",
        tenantId: "tenant-7",
        roles: ["admin", "reader"],
        scopes: ["orders:read", "orders:write"],
        expiresInSeconds: 600,
        extra: { email: "ada@example.com", nested: { level: 2 } },
      });
      const principal = await setup().decoder.decode(token);
      const after = Math.ceil(Date.now() / 1000);

      expect(principal.subject).toBe("user-42");
      expect(principal.tenantId).toBe("tenant-7");
      expect([...principal.roles]).toEqual(["admin", "reader"]);
      expect([...principal.scopes]).toEqual(["orders:read", "orders:write"]);
      expect(principal.expiresAt).toBeInstanceOf(Date);
      const expiresAt = (principal.expiresAt as Date).getTime() / 1000;
      expect(expiresAt).toBeGreaterThanOrEqual(before + 600);
      expect(expiresAt).toBeLessThanOrEqual(after + 600);
      expect(principal.claims.sub).toBe("user-42");
      expect(principal.claims.email).toBe("ada@example.com");
      expect(principal.claims.nested).toEqual({ level: 2 });
    });

    it("gives no tenant and empty roles and scopes when the token names none", async () => {
      const principal = await setup().decoder.decode(await setup().issuer.issue({ subject: "plain" }));
      expect(principal.subject).toBe("plain");
      expect(principal.tenantId).toBeUndefined();
      expect([...principal.roles]).toEqual([]);
      expect([...principal.scopes]).toEqual([]);
    });

    it("reports issuedAt and expiresAt exactly as the token's iat and exp, and neither when it has none", async () => {
      const token = await setup().issuer.issue({ subject: "iat" });
      const principal = await setup().decoder.decode(token);
      // What the token itself says, read from its payload, not from what the decoder chose to return.
      const [, payload = ""] = token.split(".");
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<
        string,
        unknown
      >;
      for (const [claim, reported] of [
        ["iat", principal.issuedAt],
        ["exp", principal.expiresAt],
      ] as const) {
        const value = claims[claim];
        if (typeof value === "number") {
          expect(reported, `the token has ${claim}`).toBeInstanceOf(Date);
          expect((reported as Date).getTime()).toBe(value * 1000);
        } else {
          expect(reported, `the token has no ${claim}`).toBeUndefined();
        }
      }
      expect(principal.expiresAt?.getTime()).toBeGreaterThan(Date.now());
      if (principal.issuedAt !== undefined)
        expect(principal.issuedAt.getTime()).toBeLessThanOrEqual(Date.now());
    });

    it("accepts a token that becomes valid in the past", async () => {
      const token = await setup().issuer.issue({ subject: "nbf-past", notBeforeInSeconds: -60 });
      expect((await setup().decoder.decode(token)).subject).toBe("nbf-past");
    });

    it("accepts an Authorization header value with a case-insensitive Bearer scheme and extra spaces", async () => {
      const token = await setup().issuer.issue({ subject: "header-user" });
      for (const value of [
        `Bearer ${token}`,
        `bearer ${token}`,
        `BEARER ${token}`,
        `bEaReR ${token}`,
        `Bearer    ${token}`,
        `  Bearer ${token}  `,
        `Bearer\t${token}`,
        `  ${token} `,
      ]) {
        expect((await setup().decoder.decode(value)).subject, JSON.stringify(value.slice(0, 12))).toBe(
          "header-user",
        );
      }
    });

    it("decodes the same token repeatedly and concurrently to equal principals", async () => {
      const token = await setup().issuer.issue({ subject: "again", roles: ["r"] });
      const principals = await Promise.all(Array.from({ length: 8 }, () => setup().decoder.decode(token)));
      for (const principal of principals) {
        expect(principal.subject).toBe("again");
        expect([...principal.roles]).toEqual(["r"]);
      }
    });
  });
}
