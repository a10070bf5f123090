import { z } from "zod";
import { COMPONENT_NAME } from "../catalog/catalog.schema.js";
import { ProductName, ReleaseVersion } from "../releases/releases.schema.js";

const SiteId = z.uuid("must be a site id");
const Components = z
  .array(z.string().regex(COMPONENT_NAME, "not a component name"))
  .min(1)
  .max(500)
  .refine((list) => new Set(list).size === list.length, { message: "a component may appear only once" });
const From = z.union([z.literal("installed"), ReleaseVersion]);

/** Parts smaller than 1 MiB make no sense for removable media and would flood the blob store. */
export const MIN_PART_SIZE = 1024 * 1024;

export const CreateBundleBody = z.strictObject({
  site: SiteId,
  release: z.strictObject({ product: ProductName, version: ReleaseVersion }),
  from: From.optional(),
  components: Components.optional(),
  format: z.enum(["tar", "tar.gz"]).default("tar"),
  maxPartSize: z.number().int().min(MIN_PART_SIZE).max(Number.MAX_SAFE_INTEGER).optional(),
});
export type CreateBundleBody = z.output<typeof CreateBundleBody>;

export const BundleParams = z.strictObject({ id: z.uuid("must be a bundle id") });

export const DownloadQuery = z.strictObject({ part: z.coerce.number().int().min(1).optional() });

export const ListBundlesQuery = z.strictObject({
  site: SiteId.optional(),
  status: z.enum(["queued", "building", "ready", "failed", "expired"]).optional(),
  cursor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const PlanParams = z.strictObject({ id: SiteId });
export const PlanQuery = z.strictObject({
  product: ProductName,
  version: ReleaseVersion,
  /** Default: the installed release when the site runs this product, else a full install. */
  from: z.union([From, z.literal("none")]).optional(),
  /** Comma-separated component names. */
  components: z
    .string()
    .transform((value) => value.split(",").map((name) => name.trim()).filter(Boolean))
    .pipe(Components)
    .optional(),
});
