import { z } from "zod";
import { ROLES } from "./actor.js";

export const Username = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{1,62}$/, "2-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
export const Role = z.enum(ROLES);

export const LoginBody = z.strictObject({ username: z.string().min(1).max(200), password: z.string().min(1).max(1024) });

export const CreateUserBody = z.strictObject({
  username: Username,
  password: z.string().min(8, "at least 8 characters").max(1024),
  roles: z.array(Role).min(1).max(ROLES.length),
});

export const UserParams = z.strictObject({ id: z.uuid() });

export const UpdateUserBody = z
  .strictObject({
    disabled: z.boolean().optional(),
    roles: z.array(Role).min(1).max(ROLES.length).optional(),
  })
  .refine((body) => body.disabled !== undefined || body.roles !== undefined, "give disabled, roles or both");

export const CreateTokenBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  roles: z.array(Role).min(1).max(ROLES.length),
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});

export const TokenParams = z.strictObject({ id: z.uuid() });
/** Keyset paging (SPEC §4): pass back `nextCursor` as `cursor`. */
const Cursor = z.string().max(300).optional();
const Limit = z.coerce.number().int().min(1).max(500).default(100);

export const TokenListQuery = z.strictObject({ all: z.enum(["true", "false"]).optional(), cursor: Cursor, limit: Limit });
export const UserListQuery = z.strictObject({ cursor: Cursor, limit: Limit });
