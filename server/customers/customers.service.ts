/**
 * Customers: the organisations Ferry delivers to. A customer owns sites; its name is a
 * slug that appears in URLs and bundle names, so it never changes.
 */
import type { Db } from "../db/client.js";
import { conflict, notFound } from "../errors.js";

export class CustomersService {
  constructor(private readonly db: Db) {}

  async create(input: { name: string; displayName?: string }) {
    const existing = await this.db.customer.findUnique({ where: { name: input.name }, select: { id: true } });
    if (existing) throw conflict("already_exists", `customer ${input.name} already exists`, { name: input.name });
    return this.db.customer.create({ data: { name: input.name, displayName: input.displayName ?? null } });
  }

  /** Customers by name, `limit` per page; `cursor` is the last name of the previous page. */
  async list(page: { cursor?: string; limit: number }) {
    const rows = await this.db.customer.findMany({
      where: page.cursor ? { name: { gt: page.cursor } } : {},
      orderBy: { name: "asc" },
      take: page.limit + 1,
      include: { _count: { select: { sites: true } } },
    });
    const items = rows.slice(0, page.limit);
    return { items, nextCursor: rows.length > page.limit ? items[items.length - 1]!.name : null };
  }

  async get(name: string) {
    const row = await this.db.customer.findUnique({
      where: { name },
      include: { sites: { orderBy: { name: "asc" } } },
    });
    if (!row) throw notFound("customer", name);
    return row;
  }
}
