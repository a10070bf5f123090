import { z } from "zod";
import type { Descriptor } from "./image-formats.js";

export const ImageListQuery = z.strictObject({
  name: z.string().max(255).optional(),
  cursor: z.string().max(1000).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const ImageParams = z.strictObject({ artifactId: z.uuid() });

/** The shape of `ContainerImage.layers` (Json): the manifest's layer descriptors, in order. */
export type StoredLayers = Descriptor[];
