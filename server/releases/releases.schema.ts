import { z } from "zod";
import { COMPONENT_NAME } from "../catalog/catalog.schema.js";
import { COMPONENT_VERSION, PRODUCT_NAME, RELEASE_VERSION } from "./versions.js";

export const ProductName = z.string().regex(PRODUCT_NAME, "must be lowercase letters, digits, dots, dashes or underscores");
export const ReleaseVersion = z.string().max(64).regex(RELEASE_VERSION, "must be a version like 2.4.0 or 2.4.0-rc.1 (no slashes)");

const ComponentVersion = z.strictObject({
  name: z.string().regex(COMPONENT_NAME, "not a component name"),
  version: z.string().regex(COMPONENT_VERSION, "must be a version (letters, digits, . _ + -, no slashes)"),
});

const Components = z
  .array(ComponentVersion)
  .min(1)
  .max(500)
  .refine((list) => new Set(list.map((c) => c.name)).size === list.length, { message: "a component may appear only once" });

export const CreateReleaseBody = z.strictObject({
  product: ProductName,
  version: ReleaseVersion,
  components: Components,
  notes: z.string().max(20_000).optional(),
  required: z.boolean().default(false),
});
export type CreateReleaseBody = z.output<typeof CreateReleaseBody>;

export const UpdateReleaseBody = z
  .strictObject({
    components: Components.optional(),
    notes: z.string().max(20_000).nullable().optional(),
    required: z.boolean().optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: "nothing to change" });
export type UpdateReleaseBody = z.output<typeof UpdateReleaseBody>;

export const ReleaseParams = z.strictObject({ product: ProductName, version: ReleaseVersion });

export const ListReleasesQuery = z.strictObject({
  product: ProductName.optional(),
  status: z.enum(["draft", "sealed"]).optional(),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const DiffQuery = z.strictObject({ from: ReleaseVersion });
