import { z } from "zod";

/** Lower-case slugs: safe in URLs, file names and bundle names. */
export const Slug = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, "must be a lower-case slug (a-z, 0-9, '-'), not starting or ending with '-'");

export const CreateCustomerBody = z.strictObject({
  name: Slug,
  displayName: z.string().trim().min(1).max(200).optional(),
});

export const CustomerParams = z.strictObject({ customer: Slug });

export const CustomerListQuery = z.strictObject({
  /** The name of the last customer of the previous page. */
  cursor: Slug.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
