import type { Customer } from "../generated/prisma/client.js";

export function presentCustomer(row: Customer & { _count?: { sites: number } }) {
  return {
    id: row.id,
    name: row.name,
    displayName: row.displayName,
    createdAt: row.createdAt,
    ...(row._count ? { siteCount: row._count.sites } : {}),
  };
}
