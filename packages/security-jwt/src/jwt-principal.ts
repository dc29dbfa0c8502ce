import type { Principal } from "@proj/ports";
import { refuse } from "./jwt-token-text.js";

/** A claim name, or a path of names into nested objects (`["realm_access", "roles"]`). */
export type ClaimPath = string | readonly string[];

export interface JwtClaimMapping {
  /** Claim holding the tenant id (a string). Default `"tenant_id"`. */
  tenantId?: ClaimPath;
  /** Claim holding the roles (array of strings, or a space-separated string). Default `"roles"`. */
  roles?: ClaimPath;
  /** Claim holding the scopes (space-separated string, or array of strings). Default `"scope"`. */
  scopes?: ClaimPath;
}

/** Builds the principal from verified claims; throw an `UnauthenticatedError` to refuse the token. */
export type JwtPrincipalMapper = (
  claims: Readonly<Record<string, unknown>>,
  header: Readonly<Record<string, unknown>>,
) => Principal;

function read(claims: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let value: unknown = claims;
  for (const name of path) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, name)) return undefined;
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

function label(path: readonly string[]): string {
  return path.join(".");
}

function stringList(claims: Readonly<Record<string, unknown>>, path: readonly string[]): readonly string[] {
  const value = read(claims, path);
  if (value === undefined) return Object.freeze([]);
  if (typeof value === "string") return Object.freeze(value.split(" ").filter((item) => item.length > 0));
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return Object.freeze(value);
  return refuse("invalid_claim", `the token "${label(path)}" claim is not a list of strings`);
}

function deepFreeze(value: object): void {
  Object.freeze(value);
  for (const key in value) {
    const member = (value as Record<string, unknown>)[key];
    if (typeof member === "object" && member !== null && !Object.isFrozen(member)) deepFreeze(member);
  }
}

function epochDate(value: unknown): Date | undefined {
  return typeof value === "number" ? new Date(value * 1000) : undefined;
}

/** The default mapping: `sub` must be a non-empty string; tenant, roles and scopes from the configured claims. */
export function createClaimMapper(mapping: JwtClaimMapping = {}): JwtPrincipalMapper {
  const asPath = (path: ClaimPath | undefined, fallback: string) =>
    path === undefined ? [fallback] : typeof path === "string" ? [path] : [...path];
  const tenantPath = asPath(mapping.tenantId, "tenant_id");
  const rolesPath = asPath(mapping.roles, "roles");
  const scopesPath = asPath(mapping.scopes, "scope");
  return (claims) => {
    const subject = claims.sub;
    if (subject === undefined) refuse("missing_claim", 'the token has no "sub" claim');
    if (typeof subject !== "string" || subject.length === 0) {
      refuse("invalid_claim", 'the token "sub" claim is not a non-empty string');
    }
    const tenantId = read(claims, tenantPath);
    if (tenantId !== undefined && typeof tenantId !== "string") {
      refuse("invalid_claim", `the token "${label(tenantPath)}" claim is not a string`);
    }
    const issuer = claims.iss;
    return {
      subject,
      tenantId,
      roles: stringList(claims, rolesPath),
      scopes: stringList(claims, scopesPath),
      expiresAt: epochDate(claims.exp),
      issuedAt: epochDate(claims.iat),
      issuer: typeof issuer === "string" ? issuer : undefined,
      claims,
    };
  };
}

/** Principals are shared (between callers, and through the cache), so nothing in them may change. */
export function freezePrincipal(principal: Principal): Principal {
  Object.freeze(principal.roles);
  Object.freeze(principal.scopes);
  deepFreeze(principal.claims);
  return Object.freeze(principal);
}
