import { InfrastructureError, type Principal } from "@proj/ports";

export const ADMIN_ROLE = "admin";

export function requireAdmin(principal: Principal): void {
  if (!principal.roles.includes(ADMIN_ROLE)) {
    throw new InfrastructureError("PERMISSION_DENIED", `the ${ADMIN_ROLE} role is required`);
  }
}

/** The tenant the caller acts for: always the one in its token, never one named in the request. */
export function callerTenantId(principal: Principal): string {
  if (principal.tenantId === undefined || principal.tenantId.length === 0) {
    throw new InfrastructureError("PERMISSION_DENIED", "the token names no tenant");
  }
  return principal.tenantId;
}
