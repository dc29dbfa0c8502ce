// The embedded-defaults demo: composes the memory adapters and walks through one flow.
import { createMemoryTenantRepository } from "@proj/adapter-memory";
import { isInfrastructureError } from "@proj/ports";

const tenants = createMemoryTenantRepository();
try {
  const acme = await tenants.create({
    slug: "acme",
    name: "Acme Corp",
    plan: "starter",
    settings: { locale: "en" },
  });
  console.log(`created tenant ${acme.slug} (${acme.id}) at version ${acme.version}`);
  const upgraded = await tenants.update(acme.id, { plan: "pro" }, acme.version);
  console.log(`upgraded ${upgraded.slug} to plan ${upgraded.plan}, version ${upgraded.version}`);
  try {
    await tenants.update(acme.id, { plan: "enterprise" }, acme.version);
  } catch (error) {
    if (!isInfrastructureError(error, "CONFLICT")) throw error;
    console.log(`a stale write was refused: ${error.code} (${error.message})`);
  }
  const page = await tenants.list({ limit: 10 });
  console.log(`tenants listed: ${page.items.map((t) => `${t.slug}@v${t.version}`).join(", ")}`);
} finally {
  await tenants.close();
}
